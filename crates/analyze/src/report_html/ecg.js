// Interactive Fig. 2 of report.html (analyze ecg). Data: the JSON block #report-data, i.e.
// report.json's fig2_curves and dominant_pairs. The chart maps step t (1..n) to
// x = X0 + (t - 1) (X1 - X0) / (n - 1) and a value v to y = Y1 - (v - lo) (Y1 - Y0) / (hi - lo),
// where lo, hi (written on the svg as data-lo, data-hi) span the beats' median and the chosen
// curve, each ± its MAD.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg", X0 = 48, X1 = 670, Y0 = 12, Y1 = 270;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var fc = data.fig2_curves, pairs = data.dominant_pairs;
  var state = { p: 0, rec: "modulus" };
  var svg = document.getElementById("ek-chart"), caption = document.getElementById("ek-caption");
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function fmt(x) { return (Math.round(x * 100) / 100).toString(); }
  function render() {
    var c = fc.pairs[state.p][state.rec], b = fc.beats, n = b.median.length;
    var lo = Infinity, hi = -Infinity;
    [b, c].forEach(function (k) {
      k.median.forEach(function (m, t) {
        lo = Math.min(lo, m - k.mad[t]); hi = Math.max(hi, m + k.mad[t]);
      });
    });
    if (!(hi > lo)) { hi = lo + 1; }
    function X(t) { return X0 + t * (X1 - X0) / (n - 1); }
    function Y(v) { return Y1 - (v - lo) * (Y1 - Y0) / (hi - lo); }
    function line(v) { return v.map(function (y, t) { return (t ? "L" : "M") + fmt(X(t)) + " " + fmt(Y(y)); }).join(""); }
    function band(k) {
      var up = k.median.map(function (m, t) { return fmt(X(t)) + "," + fmt(Y(m + k.mad[t])); });
      var dn = k.median.map(function (m, t) { return fmt(X(t)) + "," + fmt(Y(m - k.mad[t])); }).reverse();
      return up.concat(dn).join(" ");
    }
    svg.textContent = "";
    svg.setAttribute("data-lo", String(lo));
    svg.setAttribute("data-hi", String(hi));
    svg.appendChild(el("rect", { x: X0, y: Y0, width: X1 - X0, height: Y1 - Y0, "class": "frame" }));
    [lo, (lo + hi) / 2, hi].forEach(function (v) {
      var t = el("text", { x: X0 - 4, y: Y(v) + 4, "text-anchor": "end", "class": "tick" });
      t.textContent = v.toFixed(1);
      svg.appendChild(t);
    });
    [1, Math.round(n / 2), n].forEach(function (s) {
      var t = el("text", { x: X(s - 1), y: Y1 + 16, "text-anchor": s === n ? "end" : s === 1 ? "start" : "middle", "class": "tick" });
      t.textContent = "t=" + s;
      svg.appendChild(t);
    });
    svg.appendChild(el("polygon", { points: band(b), "class": "band-beat" }));
    svg.appendChild(el("polygon", { points: band(c), "class": "band", id: "ek-band" }));
    svg.appendChild(el("path", { d: line(b.median), "class": "beat", id: "ek-beat" }));
    svg.appendChild(el("path", { d: line(c.median), "class": "curve", id: "ek-curve",
      "data-pair": String(state.p), "data-rec": state.rec }));
    var p = pairs[state.p];
    var feat = state.rec === "modulus" ? [p.feature, p.paper_feature] : [p.sign_invariant_extreme, p.sign_invariant_feature];
    caption.textContent = "{" + fc.pairs[state.p].set.map(function (j) { return "u" + j; }).join(",") + "}, " +
      (state.rec === "modulus" ? "Eq. 11 (modulus)" : "sign-invariant") + ": median ± MAD over the batch (orange) over the beats' median ± MAD (grey). Most prominent extreme " +
      feat[0] + (feat[1] ? ", the paper's " + feat[1] : ", no paper feature") + ".";
    document.querySelectorAll("#ek .pair").forEach(function (b2) {
      b2.setAttribute("aria-pressed", Number(b2.dataset.p) === state.p ? "true" : "false");
    });
    document.body.dataset.ekPair = String(state.p);
    document.body.dataset.ekRec = state.rec;
  }
  document.querySelectorAll("#ek .pair").forEach(function (b) {
    b.addEventListener("click", function () { state.p = Number(b.dataset.p); render(); });
  });
  document.querySelectorAll("input[name=ek-rec]").forEach(function (r) {
    r.addEventListener("change", function () { if (r.checked) { state.rec = r.value; render(); } });
  });
  if (fc.pairs.length > 0) { render(); }
  document.body.dataset.ekReady = "1";
})();
