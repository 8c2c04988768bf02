// Interactive Fig. 1 of report.html (analyze imdb). Data: the JSON block #report-data, i.e.
// report.json's token_views and word_stats.groups. Colour rule (also in docs/report-html.md):
//   level:        a = (v - min) / (max - min) over the review's pieces, colour POS;
//   change:       d_t = v_t - v_(t-1) (v_(-1) = 0), a = |d| / max|d|, POS if d > 0 else NEG;
//   contribution: c_t = w . P_S(h_t),   a = |c| / max|c|, POS if c > 0 else NEG;
// background rgba(colour, a) with a rounded to 3 decimals.
(function () {
  "use strict";
  var POS = [67, 147, 195], NEG = [214, 96, 77];
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var tv = data.token_views, groups = data.groups;
  var state = { g: 0, r: 0, mode: "level" };
  var sel = document.getElementById("kv-review");
  var search = document.getElementById("kv-search");
  var tokensEl = document.getElementById("kv-tokens");
  var caption = document.getElementById("kv-caption");
  var wordsEl = document.getElementById("kv-words");
  function gname(g) { return "{" + tv.groups[g].map(function (j) { return "u" + j; }).join(",") + "}"; }
  function text(r) {
    var s = "";
    r.tokens.forEach(function (t) { s += t.indexOf("##") === 0 ? t.slice(2) : " " + t; });
    return s.trim();
  }
  tv.reviews.forEach(function (r, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = (r.role ? r.role + " (Fig. 1) " : "") + r.review + ", label " +
      (r.label === 1 ? "positive" : "negative") + ", logit " + r.logit.toFixed(2);
    sel.appendChild(o);
  });
  function values(r, g, mode) {
    if (mode === "contribution") return r.contribution[g];
    var v = r.level[g];
    if (mode === "level") return v;
    return v.map(function (x, t) { return x - (t > 0 ? v[t - 1] : 0); });
  }
  function alphas(v, mode) {
    var out = [];
    if (mode === "level") {
      var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
      v.forEach(function (x) { out.push([hi > lo ? (x - lo) / (hi - lo) : 0, POS]); });
    } else {
      var m = 0;
      v.forEach(function (x) { m = Math.max(m, Math.abs(x)); });
      v.forEach(function (x) { out.push([m > 0 ? Math.abs(x) / m : 0, x > 0 ? POS : NEG]); });
    }
    return out;
  }
  function render() {
    var r = tv.reviews[state.r];
    var v = values(r, state.g, state.mode), a = alphas(v, state.mode);
    tokensEl.textContent = "";
    r.tokens.forEach(function (t, i) {
      var cont = t.indexOf("##") === 0;
      if (i > 0 && !cont) tokensEl.appendChild(document.createTextNode(" "));
      var s = document.createElement("span");
      s.className = "tok";
      s.textContent = cont ? t.slice(2) : t;
      var c = a[i][1], al = Math.round(a[i][0] * 1000) / 1000;
      s.style.backgroundColor = "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + al + ")";
      s.title = v[i].toPrecision(4);
      s.dataset.v = String(v[i]);
      tokensEl.appendChild(s);
    });
    var what = { level: "level m_S(h_t) (Eq. 10)", change: "change m_S(h_t) - m_S(h_(t-1))",
      contribution: "readout contribution w · P_S(h_t)" }[state.mode];
    caption.textContent = gname(state.g) + ": " + what + " on review " + r.review + " (" +
      r.tokens.length + " pieces). " + (state.mode === "level" ? "Blue: high." :
      "Blue: up / positive, red: down / negative; opacity: size against the review's largest.");
    var gs = groups[state.g];
    var ch = state.mode === "contribution" ? gs.readout_contribution : gs.magnitude;
    function list(xs) { return xs.slice(0, 8).map(function (p) { return p[0]; }).join(", "); }
    wordsEl.textContent = "";
    [["Rising most (App. A)", ch.top_increase], ["Falling most", ch.top_decrease]].forEach(function (p) {
      var d = document.createElement("p");
      var b = document.createElement("strong");
      b.textContent = p[0] + ": ";
      d.appendChild(b);
      d.appendChild(document.createTextNode(list(p[1])));
      wordsEl.appendChild(d);
    });
    var rho = document.createElement("p");
    rho.textContent = gname(state.g) + " " + ch.kind + ": Spearman ρ with word polarity " + ch.spearman.toFixed(3);
    wordsEl.appendChild(rho);
    document.querySelectorAll("#kv .grp").forEach(function (b) {
      b.setAttribute("aria-pressed", Number(b.dataset.g) === state.g ? "true" : "false");
    });
    document.querySelectorAll("#kv-spec .ev").forEach(function (c) {
      c.classList.toggle("sel", Number(c.dataset.g) === state.g);
    });
    document.body.dataset.kvGroup = String(state.g);
    document.body.dataset.kvReview = String(state.r);
    document.body.dataset.kvMode = state.mode;
  }
  function pick(g) { state.g = g; render(); }
  document.querySelectorAll("#kv .grp, #kv-spec .ev").forEach(function (el) {
    el.addEventListener("click", function () { pick(Number(el.dataset.g)); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(Number(el.dataset.g)); }
    });
  });
  sel.addEventListener("change", function () { state.r = Number(sel.value); render(); });
  document.querySelectorAll("input[name=kv-mode]").forEach(function (el) {
    el.addEventListener("change", function () { if (el.checked) { state.mode = el.value; render(); } });
  });
  search.addEventListener("input", function () {
    var q = search.value.toLowerCase(), first = -1;
    tv.reviews.forEach(function (r, i) {
      var hit = q === "" || text(r).toLowerCase().indexOf(q) >= 0 || r.review.indexOf(q) >= 0;
      sel.options[i].hidden = !hit;
      sel.options[i].disabled = !hit;
      if (hit && first < 0) first = i;
    });
    if (first >= 0 && sel.options[state.r].hidden) { sel.value = String(first); state.r = first; render(); }
  });
  render();
  document.body.dataset.kvReady = "1";
})();
