#!/usr/bin/env python3
"""Opens the ``report.html`` pages of ``analyze imdb|ecg|copy`` in headless Chromium and checks them.

Usage::

    python3 scripts/check_report_html.py PAGE [PAGE ...] [--chromium PATH]

Each PAGE is a run folder holding ``report.html`` and ``report.json`` written by ``analyze
imdb|ecg|copy``, a folder holding ``compare.html`` and ``compare.json`` (``analyze compare``), or
an ``.html`` file (``analyze states --html PAGE.html``, or ``fixed_points.html`` of ``analyze
fixed-points``; its JSON, if any, is the ``.json`` of the same stem beside it, as ``--out`` names
it). Screenshots are named after the page (``report_1280x800.png``, ``fixed_points_390x844.png``). The page is opened
from disk (``file://``) in Debian's ``chromium``, driven over the DevTools protocol through
``--remote-debugging-pipe`` (standard library only: no Selenium, no WebSocket client). Checked:

* no console error, no uncaught exception, no log entry of level error (a Content-Security-Policy
  violation is one), and no network request other than the page itself;
* the verdict table is present, with one row per claim and a verdict in each;
* IMDB: choosing an eigen-group (a click on its button, and the Enter key on its eigenvalue in
  the spectrum) recolours every token of the review to the colour the documented rule gives for
  that group's values in ``report.json`` (``token_views``), in the three colour modes;
* ECG: choosing a dominant set and toggling the reconstruction redraws the curve, and the drawn
  curve is that set's median in ``report.json`` (``fig2_curves``), for both reconstructions.

Screenshots are written beside the page, named by its stem (``report``, ``compare``, ...):
``<stem>_1280x800.png`` (top of the page), ``<stem>_interactive_1280x800.png`` (the interactive
figure, IMDB and ECG), ``<stem>_390x844.png`` (phone width) and ``<stem>_dark_1280x800.png`` (dark
colour scheme).
Exit status 0 when every page passes, 1 otherwise (the failures are printed).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

POS = (67, 147, 195)
NEG = (214, 96, 77)


class CheckError(Exception):
    """A check of a page failed."""


class Browser:
    """Headless Chromium driven over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out, NUL-framed JSON)."""

    def __init__(self, chromium: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="kann-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()

        def wire() -> None:
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),
        )
        os.close(cmd_r)
        os.close(resp_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        """Ends the browser and removes its profile."""
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._cmd_w)
        os.close(self._resp_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise CheckError("Chromium did not answer in time")
            chunk = os.read(self._resp_r, 1 << 16)
            if not chunk:
                raise CheckError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Sends one command and returns its result; events read meanwhile are kept."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CheckError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """Waits for an event (or takes it from those already read)."""
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)


class Page:
    """One page target with the domains the checks need."""

    def __init__(self, browser: Browser) -> None:
        self.b = browser
        targets = browser.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.s = browser.send("Target.attachToTarget",
                              {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.cmd(f"{domain}.enable")

    def cmd(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command in the page's session."""
        return self.b.send(method, params, self.s)

    def eval(self, expr: str) -> Any:
        """Evaluates ``expr`` in the page and returns its value."""
        r = self.cmd("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                          "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CheckError(f"evaluating {expr[:60]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def viewport(self, width: int, height: int, mobile: bool = False, dark: bool = False) -> None:
        """Sets the viewport and the colour scheme."""
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self.cmd("Emulation.setEmulatedMedia",
                 {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})

    def open(self, url: str) -> None:
        """Navigates and waits for the load event."""
        self.b.events = [e for e in self.b.events if e.get("method") != "Page.loadEventFired"]
        self.cmd("Page.navigate", {"url": url})
        self.b.wait_event("Page.loadEventFired")

    def shot(self, path: Path) -> None:
        """Writes a PNG of the viewport."""
        data = self.cmd("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self, page_url: str) -> list[str]:
        """Console errors, exceptions, error log entries and foreign requests seen so far."""
        out = []
        for e in self.b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console {p['type']}: {p.get('args')}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log error: {p['entry'].get('text')}")
            elif m == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if url != page_url and not url.startswith("data:"):
                    out.append(f"network request: {url}")
        return out


def expected_colours(values: list[float], mode: str) -> list[tuple[tuple[int, int, int], float]]:
    """The documented colour rule of the IMDB tokens (see imdb.js and docs/report-html.md)."""
    if mode == "change":
        values = [v - (values[t - 1] if t > 0 else 0.0) for t, v in enumerate(values)]
    if mode == "level":
        lo, hi = min(values), max(values)
        return [(POS, (v - lo) / (hi - lo) if hi > lo else 0.0) for v in values]
    m = max(abs(v) for v in values)
    return [(POS if v > 0 else NEG, abs(v) / m if m > 0 else 0.0) for v in values]


def parse_rgba(s: str) -> tuple[tuple[int, int, int], float]:
    """``rgba(r, g, b, a)`` or ``rgb(r, g, b)`` as ((r, g, b), a)."""
    inner = s[s.index("(") + 1:s.rindex(")")]
    parts = [float(x) for x in inner.split(",")]
    a = parts[3] if len(parts) == 4 else 1.0
    return (int(parts[0]), int(parts[1]), int(parts[2])), a


def check_tokens(page: Page, report: dict[str, Any], review: int, group: int, mode: str) -> None:
    """The token colours of the page equal the rule applied to report.json's values."""
    r = report["token_views"]["reviews"][review]
    key = "contribution" if mode == "contribution" else "level"
    exp = expected_colours([float(v) for v in r[key][group]], mode)
    got = page.eval("Array.from(document.querySelectorAll('#kv-tokens .tok'))"
                    ".map(s => getComputedStyle(s).backgroundColor)")
    if len(got) != len(exp):
        raise CheckError(f"{len(got)} tokens shown, report.json has {len(exp)}")
    for t, (g, (rgb, a)) in enumerate(zip(got, exp)):
        grgb, ga = parse_rgba(g)
        if a < 0.0005:
            ok = ga < 0.01
        else:
            ok = abs(ga - a) <= 0.01 and grgb == rgb
        if not ok:
            raise CheckError(f"group {group} {mode}: token {t} ({r['tokens'][t]!r}) is {g}, "
                             f"expected rgba{rgb + (round(a, 3),)}")


def check_imdb(page: Page, report: dict[str, Any]) -> str:
    """Group buttons, the spectrum's eigenvalues (keyboard) and the modes recolour the tokens."""
    tv = report["token_views"]
    n_groups = len(tv["groups"])
    if n_groups < 2 or not tv["reviews"]:
        raise CheckError("token_views has fewer than 2 groups or no review")
    if page.eval("document.body.dataset.kvReady") != "1":
        raise CheckError("the IMDB script did not start")
    check_tokens(page, report, 0, 0, "level")
    before = page.eval("Array.from(document.querySelectorAll('#kv-tokens .tok'))"
                       ".map(s => getComputedStyle(s).backgroundColor).join(';')")
    g = n_groups - 1
    page.eval(f"document.querySelector('#kv-groups .grp[data-g=\"{g}\"]').click()")
    check_tokens(page, report, 0, g, "level")
    after = page.eval("Array.from(document.querySelectorAll('#kv-tokens .tok'))"
                      ".map(s => getComputedStyle(s).backgroundColor).join(';')")
    if after == before:
        raise CheckError("choosing another group did not change the colours")
    for mode in ("change", "contribution"):
        page.eval(f"document.querySelector('input[name=kv-mode][value={mode}]').click()")
        check_tokens(page, report, 0, g, mode)
    page.eval("document.querySelector('input[name=kv-mode][value=level]').click()")
    # Keyboard: focus an eigenvalue of group 1 in the spectrum and press Enter.
    if page.eval("document.querySelectorAll('#kv-spec .ev[data-g=\"1\"]').length") == 0:
        raise CheckError("group 1 has no eigenvalue in the spectrum control")
    page.eval("document.querySelector('#kv-spec .ev[data-g=\"1\"]').focus()")
    for kind in ("keyDown", "keyUp"):
        page.cmd("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                            "windowsVirtualKeyCode": 13})
    if page.eval("document.body.dataset.kvGroup") != "1":
        raise CheckError("Enter on an eigenvalue did not choose its group")
    check_tokens(page, report, 0, 1, "level")
    last = len(tv["reviews"]) - 1
    page.eval(f"(() => {{ const s = document.getElementById('kv-review'); s.value = '{last}';"
              f" s.dispatchEvent(new Event('change')); }})()")
    check_tokens(page, report, last, 1, "level")
    page.eval("document.getElementById('kv').closest('section').scrollIntoView()")
    return "#kv"


def check_ecg(page: Page, report: dict[str, Any]) -> str:
    """Choosing a set and toggling the reconstruction draws that curve of report.json."""
    fc = report["fig2_curves"]
    if not fc["pairs"]:
        raise CheckError("fig2_curves has no set")
    if page.eval("document.body.dataset.ekReady") != "1":
        raise CheckError("the ECG script did not start")

    def drawn() -> tuple[str, list[float]]:
        d, lo, hi = page.eval("(() => { const s = document.getElementById('ek-chart');"
                              " return [document.getElementById('ek-curve').getAttribute('d'),"
                              " Number(s.dataset.lo), Number(s.dataset.hi)]; })()")
        ys = [float(seg.split()[1]) for seg in d.replace("M", "L").split("L")[1:]]
        y0, y1 = 12.0, 270.0
        return d, [lo + (y1 - y) * (hi - lo) / (y1 - y0) for y in ys]

    p = len(fc["pairs"]) - 1
    seen = []
    for rec in ("modulus", "sign_invariant"):
        page.eval(f"document.querySelector('#ek-pairs .pair[data-p=\"{p}\"]').click()")
        page.eval(f"document.querySelector('input[name=ek-rec][value={rec}]').click()")
        d, vals = drawn()
        want = fc["pairs"][p][rec]["median"]
        if len(vals) != len(want):
            raise CheckError(f"{rec}: {len(vals)} points drawn, report.json has {len(want)}")
        scale = max(want) - min(want) or 1.0
        lo_hi = page.eval("Number(document.getElementById('ek-chart').dataset.hi)"
                          " - Number(document.getElementById('ek-chart').dataset.lo)")
        tol = 0.006 * lo_hi + 1e-9  # two decimals of a pixel on a 258-pixel axis
        worst = max(abs(a - b) for a, b in zip(vals, want))
        if worst > tol:
            raise CheckError(f"{rec}: the drawn curve is off report.json by {worst:.4g} "
                             f"(tolerance {tol:.3g}, curve range {scale:.3g})")
        seen.append(d)
    if fc["pairs"][p]["modulus"]["median"] != fc["pairs"][p]["sign_invariant"]["median"] \
            and seen[0] == seen[1]:
        raise CheckError("toggling the reconstruction did not change the curve")
    page.eval("document.getElementById('ek').closest('section').scrollIntoView()")
    return "#ek"


def page_files(run: Path) -> tuple[Path, Path | None]:
    """The page and its JSON report (None where an ``.html`` file was given without one)."""
    if run.suffix == ".html":
        js = run.with_suffix(".json")
        return run, js if js.is_file() else None
    for stem in ("report", "compare"):
        if (run / f"{stem}.html").is_file():
            return run / f"{stem}.html", run / f"{stem}.json"
    return run / "report.html", run / "report.json"


def check_run(browser: Browser, page: Page, run: Path) -> list[str]:
    """Checks one page (see ``page_files``); returns the failures (empty when it passes)."""
    html, js = page_files(run)
    if not html.is_file() or (js is not None and not js.is_file()):
        return [f"{run}: {html.name} or {js.name if js else 'its JSON'} missing"]
    report = json.loads(js.read_text()) if js else {}
    shot = lambda name: html.parent / f"{html.stem}_{name}.png"  # noqa: E731
    url = html.resolve().as_uri()
    browser.events.clear()
    fails = []
    try:
        page.viewport(1280, 800)
        page.open(url)
        rows = page.eval("Array.from(document.querySelectorAll('#verdict-table tbody tr'))"
                         ".map(r => r.lastElementChild.textContent)")
        if not rows or any(v not in ("holds", "does not hold", "inconclusive") for v in rows):
            raise CheckError(f"verdict table missing or malformed: {rows}")
        page.shot(shot("1280x800"))
        # Only the IMDB and ECG pages have an interactive figure to check.
        if html.stem == "compare":
            task = "compare"
        elif html.stem == "fixed_points":
            task = "fixed-points"
        elif isinstance(report.get("task"), str):
            task = report["task"]
        elif "eigen" in report or js is None:
            task = "states"
        else:
            task = "copy"
        anchor = None
        if task == "imdb":
            anchor = check_imdb(page, report)
        elif task == "ecg":
            anchor = check_ecg(page, report)
        if anchor:
            page.shot(shot("interactive_1280x800"))
        page.viewport(390, 844, mobile=True)
        page.eval("window.scrollTo(0, 0)")
        page.shot(shot("390x844"))
        page.viewport(1280, 800, dark=True)
        page.eval(f"document.querySelector('{anchor or 'body'}').closest('section, body')"
                  ".scrollIntoView()")
        page.shot(shot("dark_1280x800"))
        bg = page.eval("getComputedStyle(document.body).backgroundColor")
        if bg in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"):
            raise CheckError(f"dark mode left the background at {bg}")
        print(f"{run}: {task} page, {len(rows)} verdicts: {', '.join(rows)}")
    except CheckError as e:
        fails.append(f"{run}: {e}")
    fails.extend(f"{run}: {p}" for p in page.problems(url))
    page.open("about:blank")
    return fails


def main(argv: list[str] | None = None) -> int:
    """Checks every run folder given; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path,
                    help="run folders holding report.html, folders holding compare.html, or .html files "
                    "(fixed_points.html, a states page)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium",
                    help="the Chromium binary (default: chromium on PATH)")
    args = ap.parse_args(argv)
    if not shutil.which(args.chromium) and not Path(args.chromium).is_file():
        print(f"no Chromium at {args.chromium!r}: apt-get install -y chromium", file=sys.stderr)
        return 2
    started = time.monotonic()
    browser = Browser(args.chromium)
    fails: list[str] = []
    try:
        page = Page(browser)
        for run in args.runs:
            fails.extend(check_run(browser, page, run))
    finally:
        browser.close()
    for f in fails:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"{len(args.runs)} page(s), {len(fails)} failure(s), {time.monotonic() - started:.1f} s")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
