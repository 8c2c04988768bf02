"""Figures from Python (issue 21 item 3): Fig. 1 word highlights (PNG/SVG and the HTML page),
the Fig. 2 median ± MAD reconstructions of eigen-groups and the Fig. 3 medians, drawn by the
kann-plot code of `analyze`. Checks the files, the numbers behind them against numpy, that
the shading follows `analyze imdb`'s rule, and every bad input."""

import html as htmlmod
import re

import numpy as np
import pytest

import kann
from test_api import linear_states

PNG = b"\x89PNG\r\n\x1a\n"
LEVEL_LABEL = "m_S(h_t), Eq. 10 (range: review's 2nd-98th pct)"
CHANGE_LABEL = "m_S(h_t) - m_S(h_t-1) (range: review's 95th pct)"
TOKENS = "this movie was not bad at all , i ##t was ##n ' t boring & < fun >".split()


def png_size(data):
    assert data.startswith(PNG)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def scores(n=len(TOKENS), seed=0):
    return np.abs(np.random.default_rng(seed).standard_normal(n)).cumsum()


# --- word highlights (Fig. 1) ---------------------------------------------------------------


def test_word_highlight_png_bytes_and_files(tmp_path):
    s = scores()
    png = kann.plot_word_highlights(TOKENS, s, title="a review", mode="level")
    assert isinstance(png, bytes)
    w, h = png_size(png)
    assert w == 1100 and 150 < h < 400 and len(png) > 5_000
    assert kann.plot_word_highlights(TOKENS, s, title="a review", mode="level") == png  # deterministic
    out = kann.plot_word_highlights(TOKENS, s, tmp_path / "review.png", title="a review", mode="level")
    assert out == str(tmp_path / "review.png")
    assert (tmp_path / "review.png").read_bytes() == png
    svg = (tmp_path / "review.svg").read_text()
    assert svg.lstrip().startswith("<svg")
    # the SVG holds the words (## pieces joined to their word, without the ##) and the title
    for word in ["movie", "boring", "a review", "&amp;", "&lt;"]:
        assert word in svg, word
    assert ">##" not in svg
    # a float32 array and a list of floats draw the same figure as float64 (same values)
    s32 = s.astype(np.float32)
    assert kann.plot_word_highlights(TOKENS, s32, mode="level") == kann.plot_word_highlights(
        TOKENS, s32.astype(np.float64), mode="level"
    )
    assert kann.plot_word_highlights(TOKENS, list(s)) == kann.plot_word_highlights(TOKENS, s)


def test_level_and_change_modes_are_analyze_imdbs_rule():
    """mode="level" draws exactly the figure of the given scores on [q02, q98] (numpy's linear
    quantiles), blues, analyze's label; mode="change" that of the per-token differences on a
    symmetric red-white-blue range [−q95 |Δ|, q95 |Δ|] (first token 0)."""
    s = scores(seed=3) + 100.0  # a large offset, as the slow modes carry
    level = kann.plot_word_highlights(TOKENS, s, title="t", mode="level")
    lo, hi = np.quantile(s, [0.02, 0.98])
    assert level == kann.plot_word_highlights(
        TOKENS, s, title="t", min_score=lo, max_score=hi, colormap="blues", score_label=LEVEL_LABEL
    )
    change = kann.plot_word_highlights(TOKENS, s, title="t", mode="change")
    d = np.concatenate([[0.0], np.diff(s)])
    m = np.quantile(np.abs(d[1:]), 0.95)
    assert change == kann.plot_word_highlights(
        TOKENS, d, title="t", min_score=-m, max_score=m, colormap="red-white-blue", score_label=CHANGE_LABEL
    )
    assert change != level
    # constant levels still draw (a tiny valid range, as analyze)
    assert kann.plot_word_highlights(TOKENS, np.full(len(TOKENS), 2.0), mode="level").startswith(PNG)


def test_word_highlight_html_page_one_and_several_reviews(tmp_path):
    s = scores()
    page = kann.plot_word_highlights(TOKENS, s, title="first <review>", html=True)
    assert isinstance(page, str) and page.startswith("<!DOCTYPE html>")
    spans = re.findall(r'<span class="tok" style="background-color: (rgb\([^)]*\));[^"]*" title="([^"]*)">([^<]*)</span>', page)
    assert [htmlmod.unescape(t) for _, _, t in spans] == [
        t[2:] if t.startswith("##") else t for t in TOKENS
    ]
    # the darkest token is the largest score (blues: default range [0, max])
    assert spans[int(np.argmax(s))][0] == "rgb(8, 48, 107)"
    assert "first &lt;review&gt;" in page
    # several reviews: one page, one section each, written to a path
    toks2 = "an awful , dull film".split()
    out = kann.plot_word_highlights(
        [TOKENS, toks2], [s, scores(len(toks2), 1)], tmp_path / "page.html",
        title=["review A", "review B"], mode="change", page_title="two reviews",
    )
    assert out == str(tmp_path / "page.html")
    text = (tmp_path / "page.html").read_text()
    assert text.count("<section>") == 2 and "review B" in text and "<h1>two reviews</h1>" in text
    assert "awful" in text and "boring" in text and CHANGE_LABEL in htmlmod.unescape(text)
    # raw pieces when join_pieces=False
    raw = kann.plot_word_highlights(TOKENS, s, html=True, join_pieces=False)
    assert ">##t<" in raw


def test_word_highlight_errors(tmp_path):
    s = scores()
    with pytest.raises(ValueError, match=r"scores: expected a 1-d float array \[%d\], got shape \(%d\)" % (len(TOKENS), len(TOKENS) - 1)):
        kann.plot_word_highlights(TOKENS, s[:-1])
    with pytest.raises(ValueError, match=r"scores: .*got shape \(2, 3\)"):
        kann.plot_word_highlights(TOKENS[:6], np.ones((2, 3)))
    with pytest.raises(TypeError, match="tokens: expected a list of str"):
        kann.plot_word_highlights("not a list", s)
    with pytest.raises(TypeError, match="tokens: expected a list of str"):
        kann.plot_word_highlights([1, 2, 3], s[:3])
    with pytest.raises(TypeError, match="scores: expected"):
        kann.plot_word_highlights(TOKENS, "abc")
    with pytest.raises(ValueError, match="scores: entry 2 is NaN"):
        kann.plot_word_highlights(TOKENS[:3], np.array([1.0, 2.0, np.nan]))
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        kann.plot_word_highlights(TOKENS[:3], np.array([1.0, -2.0, 0.5]))  # signed needs min_score
    with pytest.raises(ValueError, match="tokens: the review has no token"):
        kann.plot_word_highlights([], np.zeros(0))
    with pytest.raises(ValueError, match="mode: expected"):
        kann.plot_word_highlights(TOKENS, s, mode="levels")
    with pytest.raises(ValueError, match="colormap: expected"):
        kann.plot_word_highlights(TOKENS, s, colormap="viridis")
    with pytest.raises(ValueError, match=r"ending in .png or .html"):
        kann.plot_word_highlights(TOKENS, s, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match=r"ending in .html"):
        kann.plot_word_highlights(TOKENS, s, tmp_path / "x.png", html=True)
    with pytest.raises(ValueError, match="draw only as one HTML page"):
        kann.plot_word_highlights([TOKENS, TOKENS], [s, s])
    with pytest.raises(ValueError, match="scores: 1 arrays for 2 reviews"):
        kann.plot_word_highlights([TOKENS, TOKENS], [s], html=True)
    with pytest.raises(ValueError, match=r"scores\[1\]: expected a 1-d float array \[4\]"):
        kann.plot_word_highlights([TOKENS, TOKENS[:4]], [s, s], html=True)
    with pytest.raises(ValueError, match="title: 1 titles for 2 reviews"):
        kann.plot_word_highlights([TOKENS, TOKENS], [s, s], html=True, title=["a"])
    with pytest.raises(ValueError, match="max_score"):
        kann.plot_word_highlights(TOKENS, s, min_score=1.0, max_score=0.5)
    assert not list(tmp_path.iterdir())  # nothing written on an error


# --- medians and reconstructions (Figs. 2-3) -----------------------------------------------


def numpy_median_mad(curves):
    med = np.median(curves, axis=0)
    return med, np.median(np.abs(curves - med), axis=0)


def test_median_mad_equals_numpy():
    c = np.random.default_rng(0).standard_normal((7, 30))
    for x in (c, c[:6], c.astype(np.float32)):
        med, mad = kann.median_mad(x)
        em, ea = numpy_median_mad(x.astype(np.float64))
        np.testing.assert_allclose(med, em, rtol=0, atol=1e-15)
        np.testing.assert_allclose(mad, ea, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"curves: expected a 2-d float array \[m, n\].*got shape \(30\)"):
        kann.median_mad(c[0])
    with pytest.raises(TypeError, match="curves: expected"):
        kann.median_mad(c.astype(np.complex128))


def test_plot_medians_draws_fig3_left(tmp_path):
    rng = np.random.default_rng(1)
    t = np.linspace(0, 6, 140)
    normal = np.sin(t) + 0.1 * rng.standard_normal((40, 140))
    anomalous = np.cos(t) + 0.2 * rng.standard_normal((25, 140))
    png = kann.plot_medians({"normal": normal, "anomalous": anomalous}, title="beats")
    assert png_size(png)[0] > 500 and len(png) > 10_000
    assert kann.plot_medians([("normal", normal), ("anomalous", anomalous)], title="beats") == png
    out = kann.plot_medians({"normal": normal}, tmp_path / "m.png")
    assert out == str(tmp_path / "m.png") and "normal" in (tmp_path / "m.svg").read_text()
    with pytest.raises(ValueError, match=r"series\[\"b\"\]: expected a 2-d float array \[m, n\] = \[m, 140\]"):
        kann.plot_medians({"a": normal, "b": anomalous[:, :50]})
    with pytest.raises(TypeError, match="series: expected a dict"):
        kann.plot_medians(normal)
    with pytest.raises(ValueError, match="series: no series given"):
        kann.plot_medians({})
    with pytest.raises(ValueError, match="ending in .png"):
        kann.plot_medians({"a": normal}, tmp_path / "m.svg")


def test_plot_reconstructions_fig2(tmp_path):
    x = linear_states(b=12, t=40, h=6)
    fit = kann.fit(x, rank=5)
    h_last = x[:, -1]
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6, 50))
    beats = rng.standard_normal((30, 50))
    png = fit.plot_reconstructions(x, decode=w, original=beats)
    w_px, h_px = png_size(png)
    assert w_px == 1440 and h_px > 800  # four groups: 2 x 2 panels
    # [B, T, H] takes the last step; a callable decoder equals the matrix (identity: exact)
    eye = np.eye(6)
    a = fit.plot_reconstructions(h_last, decode=eye, original=beats[:, :6])
    assert a == fit.plot_reconstructions(x, decode=lambda z: z.copy(), original=beats[:, :6])
    # one group, written as files; the panel is named as analyze ecg names it
    g = fit.groups[0]
    out = fit.plot_reconstructions(h_last, decode=w, groups=g, kind="plain", path=tmp_path / "fig2.png")
    assert out == str(tmp_path / "fig2.png")
    svg = (tmp_path / "fig2.svg").read_text()
    lam = fit.eigenvalues[g[0]]
    assert "{u1,u2}, λ = %.4f+%.4fi" % (lam.real, abs(lam.imag)) in svg
    assert "sign-invariant" in svg
    # without decode: curves over the hidden units
    assert fit.plot_reconstructions(h_last).startswith(PNG)


def test_reconstruction_medians_are_eq11_medians():
    """The numbers drawn: median / MAD over sequences of fit.project(h, S, "modulus") W."""
    x = linear_states(b=12, t=40, h=6)
    fit = kann.fit(x, rank=5)
    w = np.random.default_rng(4).standard_normal((6, 20))
    seen = []

    def dec(z):
        seen.append(z.copy())
        return z @ w

    fit.plot_reconstructions(x, decode=dec, groups=[[0, 1], [2]])
    (z,) = seen
    m = x.shape[0]
    assert z.shape == (4 * m, 6)  # h, h B Bᵀ, then one block per group
    np.testing.assert_allclose(z[:m], x[:, -1], atol=0)
    b = fit.basis
    np.testing.assert_allclose(z[m : 2 * m], x[:, -1] @ b @ b.T, atol=1e-12)
    for k, g in enumerate([[0, 1], [2]]):
        np.testing.assert_allclose(z[(2 + k) * m : (3 + k) * m], fit.project(x[:, -1], g, kind="modulus"), atol=1e-12)


def test_plot_reconstructions_errors(tmp_path):
    x = linear_states(b=12, t=40, h=6)
    fit = kann.fit(x, rank=5)
    with pytest.raises(ValueError, match=r"h: last axis must be the hidden size H = 6, got shape \(12, 40, 5\)"):
        fit.plot_reconstructions(x[..., :5])
    with pytest.raises(ValueError, match=r"h: expected states \[B, H\] = \[B, 6\] or \[B, T, H\]"):
        fit.plot_reconstructions(x[None])
    with pytest.raises(TypeError, match="h: expected a numpy array"):
        fit.plot_reconstructions([[1.0] * 6])
    with pytest.raises(ValueError, match="kind: expected"):
        fit.plot_reconstructions(x, kind="magnitude")
    with pytest.raises(ValueError, match="groups: eigenvector index 9 out of range"):
        fit.plot_reconstructions(x, groups=[9])
    with pytest.raises(ValueError, match=r"decode: expected a callable or a float matrix W \[H, n\] = \[6, n\], got shape \(5, 3\)"):
        fit.plot_reconstructions(x, decode=np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"decode\(latents\): expected 36 rows"):
        fit.plot_reconstructions(x, decode=lambda z: z[:3], groups=0)
    with pytest.raises(ValueError, match=r"original: curves \[m, 7\] but the decoded latents have 3 steps"):
        fit.plot_reconstructions(x, decode=np.ones((6, 3)), original=np.ones((4, 7)))
    with pytest.raises(RuntimeError, match="boom"):
        fit.plot_reconstructions(x, decode=lambda z: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(ValueError, match="ending in .png"):
        fit.plot_reconstructions(x, path=tmp_path / "r.pdf")
    assert not list(tmp_path.iterdir())
