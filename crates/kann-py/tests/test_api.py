"""The rest of the kann contract: layouts, lengths and masks, fit_steps, predict (Eq. 6),
projections on eigen-groups (Eqs. 7, 10, 11) against numpy, the accumulator (push, merge, fit),
pickling, save/load, every bad input, zero copy (peak memory) and `analyze states --json`."""

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kann

REPO = Path(__file__).resolve().parents[3]


def linear_states(b=8, t=50, h=6, seed=0, rotate=True):
    """A known stable linear system with a rotating pair (eigenvalues 0.9 e^{±0.3i}) and real
    modes, observed through a random orthogonal map, with small noise."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((h, h)))
    d = np.diag(np.linspace(0.95, 0.5, h))
    if rotate:
        c, s = 0.9 * np.cos(0.3), 0.9 * np.sin(0.3)
        d[:2, :2] = [[c, s], [-s, c]]
    a = q @ d @ q.T
    x = np.empty((b, t, h))
    x[:, 0] = rng.standard_normal((b, h))
    for i in range(1, t):
        x[:, i] = x[:, i - 1] @ a + 1e-3 * rng.standard_normal((b, h))
    return x


def padded(seed=1):
    x = linear_states(b=6, t=40, seed=seed)
    lengths = np.array([40, 31, 25, 40, 12, 33])
    for i, l in enumerate(lengths):
        x[i, l:] = np.nan if i % 2 else 0.0
    return x, lengths


def test_tbh_layout_equals_bth():
    x = linear_states()
    a = kann.fit(x, rank=5)
    tbh = np.ascontiguousarray(x.transpose(1, 0, 2))
    b = kann.fit(tbh, rank=5, layout="tbh")
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, atol=1e-12)
    assert abs(a.relative_error - b.relative_error) < 1e-12
    # a strided (non-contiguous) bth view is read in chunks and gives the same fit
    c = kann.fit(tbh.transpose(1, 0, 2), rank=5)
    np.testing.assert_allclose(c.eigenvalues, a.eigenvalues, atol=1e-12)


def test_mask_equals_lengths_and_padding_is_ignored():
    x, lengths = padded()
    mask = (np.arange(40)[None, :] < lengths[:, None]).astype(np.float32)
    a = kann.fit(x, lengths=lengths, rank=5)
    b = kann.fit(x, lengths=mask, rank=5)
    c = kann.fit(x, lengths=mask.astype(bool), rank=5)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    np.testing.assert_array_equal(a.eigenvalues, c.eigenvalues)
    assert a.num_states == lengths.sum() and a.num_pairs == (lengths - 1).sum()
    # tbh with lengths: the lengths stay per sequence
    d = kann.fit(np.ascontiguousarray(x.transpose(1, 0, 2)), lengths=lengths, rank=5, layout="tbh")
    np.testing.assert_allclose(d.eigenvalues, a.eigenvalues, atol=1e-12)


def test_fit_steps_all_fits_the_padded_batch_and_scores_real_steps():
    x, lengths = padded()
    x = np.nan_to_num(x, nan=0.5)  # finite padding (zero targets would be skipped by Eq. 12)
    a = kann.fit(x, lengths=lengths, rank=5, fit_steps="all")
    full = kann.fit(x, rank=5)
    np.testing.assert_allclose(a.eigenvalues, full.eigenvalues, atol=1e-12)
    assert a.fit_steps == "all" and a.num_states == x.shape[0] * x.shape[1]
    assert abs(a.relative_error - a.score(x, lengths=lengths)) < 1e-15
    assert abs(a.relative_error - full.relative_error) > 1e-6


def numpy_groups(lam):
    """Conjugate pairs together, real eigenvalues alone (spectrum order)."""
    out, j = [], 0
    while j < len(lam):
        if abs(lam[j].imag) > 0 and j + 1 < len(lam):
            out.append([j, j + 1])
            j += 2
        else:
            out.append([j])
            j += 1
    return out


def test_predict_matches_numpy_eq6():
    x = linear_states()
    fit = kann.fit(x, rank=6)
    b, c = fit.basis, fit.operator
    h = x[:, :-3]
    np.testing.assert_allclose(fit.predict(h), h @ b @ c @ b.T, atol=1e-12)
    np.testing.assert_allclose(
        fit.predict(h, steps=3), h @ b @ np.linalg.matrix_power(c, 3) @ b.T, atol=1e-12
    )
    assert fit.predict(h.astype(np.float32)).dtype == np.float64
    # the one-step prediction's e_rel is the fit's relative_error (Eq. 12)
    p = fit.predict(x[:, :-1])
    y = x[:, 1:]
    e = np.mean(np.sum((p - y) ** 2, -1) / np.sum(y**2, -1))
    assert abs(e - fit.relative_error) < 1e-12


def test_projections_match_numpy_spectral_projectors():
    x = linear_states(seed=3)
    fit = kann.fit(x, rank=6)
    b, c = fit.basis, fit.operator
    lam, vec = np.linalg.eig(c)  # independent eigen-decomposition
    order = [int(np.argmin(np.abs(lam - z))) for z in fit.eigenvalues]
    lam, vec = lam[order], vec[:, order]
    # kann's V holds unit-norm right eigenvectors of C acting on rows: h~ C, so C v = λ v is
    # numpy's convention for the column operator; compare through the projector V_S U_S.
    np.testing.assert_allclose(fit.eigenvalues, lam, atol=1e-12)
    assert fit.groups == numpy_groups(fit.eigenvalues)
    assert fit.groups[0] == [0, 1]  # the rotating pair 0.9 e^{±0.3i} leads
    np.testing.assert_allclose(np.abs(fit.eigenvalues[:2]), 0.9, atol=2e-3)
    u = np.linalg.inv(vec)
    h = x[:3]
    total = np.zeros_like(h)
    for g in fit.groups:
        proj = (vec[:, g] @ u[g, :])
        plain = np.real(h @ b @ proj) @ b.T
        np.testing.assert_allclose(fit.project(h, g), plain, atol=1e-10)
        total += fit.project(h, g)
        # Eq. 10: |h B v_j| with unit-norm v_j (phase-free)
        mag = np.abs(h @ b @ vec[:, g])
        np.testing.assert_allclose(fit.project(h, g, kind="magnitude"), mag, atol=1e-10)
        coords = fit.project(h, g, kind="coordinates")
        assert coords.dtype == np.complex128 and coords.shape == h.shape[:-1] + (len(g),)
        np.testing.assert_allclose(np.abs(coords), mag, atol=1e-10)
    # the groups' projections add up to the projection on the basis
    np.testing.assert_allclose(total, h @ b @ b.T, atol=1e-10)
    # Eq. 11 with kann's own V (the modulus depends on V's phases), and all groups at once
    v = fit.eigenvectors
    g = fit.groups[0]
    modulus = (h @ b @ np.abs(v[:, g] @ np.linalg.inv(v)[g, :])) @ b.T
    np.testing.assert_allclose(fit.project(h, g, kind="modulus"), modulus, atol=1e-10)
    every = fit.project(h)
    assert isinstance(every, list) and len(every) == len(fit.groups)
    np.testing.assert_allclose(every[0], fit.project(h, g), atol=0)
    assert fit.project(h[0, 0], 2).shape == (6,)


def test_accumulator_push_merge_fit_equals_in_memory_fit():
    x, lengths = padded(seed=4)
    whole = kann.fit(x, lengths=lengths, rank=5)
    a = kann.GramAccumulator(6)
    a.push(x[:2], lengths[:2])
    b = kann.GramAccumulator(6)
    b.push(x[2:5], lengths[2:5])
    b.push(np.ascontiguousarray(x[5:].transpose(1, 0, 2)), lengths[5:], layout="tbh")
    a.merge(b)
    assert a.num_sequences == 6 and a.num_states == lengths.sum()
    fit = a.fit(rank=5)
    assert fit.relative_error is None
    np.testing.assert_allclose(fit.eigenvalues, whole.eigenvalues, atol=1e-12)
    np.testing.assert_allclose(fit.basis, whole.basis, atol=1e-10)
    s, n, z = fit.error_sums(x, lengths)
    assert n == (lengths - 1).sum() and z == 0
    assert abs(s / n - whole.relative_error) < 1e-12
    assert abs(fit.with_relative_error(s / n).relative_error - whole.relative_error) < 1e-12


def test_accumulator_bad_chunk_adds_nothing():
    x = linear_states()
    acc = kann.GramAccumulator(6)
    acc.push(x[:4])
    before = acc.state()
    bad = np.ascontiguousarray(x[4:].transpose(1, 0, 2))
    bad[40, 3, 1] = np.inf  # sequence 4 + 3 = 7, step 40, read in place as tbh
    with pytest.raises(ValueError, match=r"chunk of shape \(50, 4, 6\).*sequence 3, time 40, unit 1"):
        acc.push(bad, layout="tbh")
    after = acc.state()
    for key in ("g_lower", "g01", "first", "last"):
        np.testing.assert_array_equal(before[key], after[key])
    assert acc.num_sequences == 4
    with pytest.raises(ValueError, match="dim 6"):
        acc.push(x[:, :, :5].copy())
    with pytest.raises(ValueError, match="other"):
        acc.merge(kann.GramAccumulator(5))
    with pytest.raises(ValueError, match="other"):
        acc.merge(kann.GramAccumulator(6, precision="mixed"))
    with pytest.raises(ValueError, match="rank"):
        acc.fit(rank=7)
    with pytest.raises(ValueError, match="dim"):
        kann.GramAccumulator(0)


def test_tsqr_accumulator_equals_gram_accumulator_and_in_memory_fit(tmp_path):
    x, lengths = padded(seed=4)
    whole = kann.fit(x, lengths=lengths, rank=5)
    a = kann.TsqrAccumulator(6)
    a.push(x[:2], lengths[:2])
    b = kann.TsqrAccumulator(6)
    b.push(x[2:5].astype(np.float32).astype(np.float64), lengths[2:5])  # exact in f32
    b.push(np.ascontiguousarray(x[5:].transpose(1, 0, 2)), lengths[5:], layout="tbh")
    g = kann.GramAccumulator(6)
    for chunk, l in ((x[:2], lengths[:2]), (x[2:5].astype(np.float32), lengths[2:5]), (x[5:], lengths[5:])):
        g.push(chunk, l)
    a.merge(b)
    assert a.num_sequences == 6 and a.num_states == lengths.sum() and a.num_pairs == (lengths - 1).sum()
    assert a.precision == "f64" and "TsqrAccumulator(dim=6" in repr(a)
    fit = a.fit(rank=5)
    assert fit.relative_error is None
    np.testing.assert_allclose(fit.eigenvalues, g.fit(rank=5).eigenvalues, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.eigenvalues, whole.eigenvalues, rtol=0, atol=1e-6)  # f32 chunk
    r = a.state()["r"]
    assert r.shape == (12, 12) and np.all(np.tril(r, -1) == 0)
    for obj in (pickle.loads(pickle.dumps(a)), kann.load(kann.save(a, tmp_path / "tsqr"))):
        assert isinstance(obj, kann.TsqrAccumulator) and obj.num_pairs == a.num_pairs
        np.testing.assert_array_equal(obj.fit(rank=5).eigenvalues, fit.eigenvalues)
    # bad input: errors, not panics; a bad chunk adds nothing
    with pytest.raises(ValueError, match="other"):
        a.merge(kann.TsqrAccumulator(5))
    with pytest.raises(TypeError):
        a.merge(kann.GramAccumulator(6))
    with pytest.raises(ValueError, match="dim 6"):
        a.push(x[:, :, :5].copy())
    bad = x[:2].copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match="sequence 1, time 3, unit 2"):
        a.push(bad)
    np.testing.assert_array_equal(a.state()["r"], r)
    with pytest.raises(ValueError, match="rank"):
        a.fit(rank=7)
    with pytest.raises(ValueError, match="dim"):
        kann.TsqrAccumulator(0)
    state = a.state()
    state["r"] = state["r"].T.copy()
    with pytest.raises(ValueError, match="upper triangular"):
        kann._kann._tsqr_from_state(state)
    state["r"] = np.zeros((11, 11))
    with pytest.raises(ValueError, match=r"\(11, 11\), expected \(12, 12\)"):
        kann._kann._tsqr_from_state(state)
    with pytest.raises(ValueError, match="kann.tsqr"):
        kann._kann._tsqr_from_state(g.state())


def test_pickle_and_save_load_round_trip(tmp_path):
    x, lengths = padded(seed=5)
    fit = kann.fit(x, lengths=lengths, rank=5)
    for obj in (pickle.loads(pickle.dumps(fit)), kann.load(kann.save(fit, tmp_path / "fit"))):
        np.testing.assert_array_equal(obj.eigenvalues, fit.eigenvalues)
        np.testing.assert_array_equal(obj.basis, fit.basis)
        np.testing.assert_array_equal(obj.memory_horizon(), fit.memory_horizon())
        assert obj.relative_error == fit.relative_error
        np.testing.assert_array_equal(obj.project(x[:1], 0), fit.project(x[:1], 0))
    index = json.loads((tmp_path / "fit" / "kann.json").read_text())
    assert index["format"] == "kann.fit" and index["basis"] == "basis.npy"
    assert np.load(tmp_path / "fit" / "operator.npy").shape == (5, 5)
    acc = kann.GramAccumulator(6)
    acc.push(x, lengths)
    for obj in (pickle.loads(pickle.dumps(acc)), kann.load(kann.save(acc, tmp_path / "acc"))):
        assert obj.num_sequences == 6
        np.testing.assert_array_equal(obj.fit(rank=5).eigenvalues, acc.fit(rank=5).eigenvalues)
    # save replaces what kann wrote, and nothing else
    kann.save(acc, tmp_path / "fit")
    assert isinstance(kann.load(tmp_path / "fit"), kann.GramAccumulator)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="mine"):
        kann.save(fit, mine)
    assert (mine / "notes.txt").read_text() == "keep"
    with pytest.raises(FileExistsError):
        kann.save(fit, tmp_path / "fit" / "kann.json")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="kann.json"):
        kann.load(mine)


def test_bad_inputs_name_argument_and_shape():
    x = linear_states()
    with pytest.raises(TypeError, match=r"states: .*float64 of shape \(50, 6\)"):
        kann.fit(x[0])
    with pytest.raises(TypeError, match=r"states: .*int32 of shape \(8, 50, 6\)"):
        kann.fit(x.astype(np.int32))
    with pytest.raises(TypeError, match="states: .*list"):
        kann.fit(x.tolist())
    with pytest.raises(TypeError, match=r"\[T, B, H\]"):
        kann.fit(x[0], layout="tbh")
    bad = x.copy()
    bad[2, 7, 4] = np.nan
    with pytest.raises(ValueError, match=r"states of shape \(8, 50, 6\): .*sequence 2, time 7, unit 4"):
        kann.fit(bad, rank=2)
    with pytest.raises(ValueError, match=r"states of shape \(50, 8, 6\) \[T, B, H\]: .*sequence 2, time 7"):
        kann.fit(np.ascontiguousarray(bad.transpose(1, 0, 2)), rank=2, layout="tbh")
    with pytest.raises(ValueError, match=r"lengths: .*\[B\] = \[8\].*got shape \(2,\)"):
        kann.fit(x, lengths=[50, 50], rank=2)
    with pytest.raises(ValueError, match=r"lengths: .*\[8, 50\].*got shape \(8, 49\)"):
        kann.fit(x, lengths=np.ones((8, 49)), rank=2)
    with pytest.raises(ValueError, match=r"lengths: length 51 of sequence 3 is not in 1..=50"):
        kann.fit(x, lengths=[50, 50, 50, 51, 50, 50, 50, 50], rank=2)
    with pytest.raises(ValueError, match=r"lengths: length 0 of sequence 0"):
        kann.fit(x, lengths=np.zeros(8, dtype=int), rank=2)
    mask = np.ones((8, 50))
    mask[1, 10] = 0
    with pytest.raises(ValueError, match="mask of sequence 1 is not a prefix: step 11"):
        kann.fit(x, lengths=mask, rank=2)
    mask[1, 10] = 0.5
    with pytest.raises(ValueError, match=r"mask entry \[1, 10\] = 0.5"):
        kann.fit(x, lengths=mask, rank=2)
    with pytest.raises(TypeError, match="lengths"):
        kann.fit(x, lengths=["a"] * 8, rank=2)
    with pytest.raises(ValueError, match="rank: 0"):
        kann.fit(x, rank=0)
    with pytest.raises(ValueError, match=r"rank: 7 is out of range 1..=6 for states of shape \(8, 50, 6\)"):
        kann.fit(x, rank=7)
    with pytest.raises(ValueError, match=r"rank: .*at most .*pairs 3"):
        kann.fit(x[:1, :4], rank=5)
    with pytest.raises(ValueError, match="rank"):
        kann.fit(x, rank=1.5)
    with pytest.raises(TypeError, match="rank"):
        kann.fit(x, rank="3")
    with pytest.raises(ValueError, match="layout"):
        kann.fit(x, layout="htb")
    with pytest.raises(ValueError, match="fit_steps"):
        kann.fit(x, fit_steps="some")
    fit = kann.fit(x, rank=4)
    with pytest.raises(ValueError, match=r"h: last axis .* H = 6, got shape \(8, 50, 5\)"):
        fit.predict(x[..., :5])
    with pytest.raises(TypeError, match="h: "):
        fit.predict(x.astype(np.int64))
    with pytest.raises(ValueError, match="steps"):
        fit.predict(x, steps=0)
    with pytest.raises(ValueError, match=r"groups: eigenvector index 4 out of range 0..4"):
        fit.project(x, [3, 4])
    with pytest.raises(ValueError, match="kind"):
        fit.project(x, 0, kind="phase")
    with pytest.raises(ValueError, match="eps"):
        fit.memory_horizon(eps=1.5)
    with pytest.raises(ValueError, match=r"states: hidden size 5"):
        fit.score(x[..., :5].copy())


def test_energy_rank_and_mixed_precision():
    x = linear_states()
    assert kann.fit(x, rank=1.0).rank == 6
    assert kann.fit(x, rank=0.5).rank < 6
    a = kann.fit(x.astype(np.float32), rank=5, precision="mixed")
    b = kann.fit(x.astype(np.float32), rank=5)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, atol=1e-5)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys, tracemalloc
    import numpy as np
    import kann
    b, t, h = map(int, sys.argv[1:4])
    layout = sys.argv[4]
    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kann.fit(np.random.default_rng(0).standard_normal((4, 30, h)), rank=8)  # warm up
    base = peak_mb()
    shape = (b, t, h) if layout == "bth" else (t, b, h)
    x = np.empty(shape)
    rng = np.random.default_rng(1)
    for i in range(shape[0]):
        x[i] = rng.standard_normal(shape[1:])
    tracemalloc.start()
    fit = kann.fit(x, rank=8, layout=layout)
    _, traced = tracemalloc.get_traced_memory()
    print(x.nbytes / 2**20, peak_mb() - base, traced / 2**20, fit.relative_error)
    """
)


def run_memory(b, t, h, layout="bth"):
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(b), str(t), str(h), layout],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def test_zero_copy_peak_memory():
    # a 256 MiB float64 array: the fit's peak resident memory stays within 1.3x of it, and
    # numpy allocates nothing during the fit (tracemalloc sees numpy's allocations)
    array_mb, peak_mb, traced_mb = run_memory(512, 512, 128)
    assert peak_mb <= 1.3 * array_mb, f"peak {peak_mb:.0f} MiB for a {array_mb:.0f} MiB array"
    assert traced_mb < 1, f"numpy allocated {traced_mb:.1f} MiB during the fit"


def analyze_binary():
    path = os.environ.get("KANN_ANALYZE") or str(REPO / "target" / "release" / "analyze")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


@pytest.mark.skipif(analyze_binary() is None, reason="analyze binary not built (cargo build --release -p analyze, or KANN_ANALYZE)")
def test_equals_analyze_states_json(tmp_path):
    x, lengths = padded(seed=6)
    x = x.astype(np.float32)
    np.save(tmp_path / "s.npy", np.ascontiguousarray(x.transpose(1, 0, 2)))
    np.save(tmp_path / "l.npy", lengths)
    for steps in ("real", "all"):
        xs = x if steps == "real" else np.nan_to_num(x)
        np.save(tmp_path / "s.npy", np.ascontiguousarray(xs.transpose(1, 0, 2)))
        out = subprocess.run(
            [analyze_binary(), "states", str(tmp_path / "s.npy"), "--layout", "tbh",
             "--lengths", str(tmp_path / "l.npy"), "--fit-steps", steps, "--rank", "5", "--json"],
            capture_output=True, text=True, check=True,
        ).stdout
        report = json.loads(out)
        fit = kann.fit(xs, lengths=lengths, rank=5, fit_steps=steps)
        lam = np.array([e["re"] + 1j * e["im"] for e in report["eigen"]])
        np.testing.assert_allclose(fit.eigenvalues, lam, rtol=0, atol=1e-12)
        tau = np.array([e["tau"] if e["tau"] is not None else np.inf for e in report["eigen"]])
        np.testing.assert_allclose(fit.memory_horizon(), tau, rtol=1e-12)
        assert abs(fit.relative_error - report["relative_error"]["e_rel"]) < 1e-12
        assert fit.num_pairs == report["num_pairs"]


def test_plot_spectrum_draws_the_cli_figure_as_bytes_or_files(tmp_path):
    fit = kann.fit(linear_states())
    png = fit.plot_spectrum()
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    out = fit.plot_spectrum(tmp_path / "spec.png", title="a linear system")
    assert out == str(tmp_path / "spec.png")
    assert (tmp_path / "spec.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "spec.svg").read_text().lstrip().startswith("<svg")
    with pytest.raises(ValueError, match="ending in .png"):
        fit.plot_spectrum(tmp_path / "spec.jpg")


@pytest.mark.skipif(analyze_binary() is None, reason="analyze binary not built (cargo build --release -p analyze, or KANN_ANALYZE)")
def test_plot_spectrum_svg_equals_analyze_states_page_byte_for_byte(tmp_path):
    # the notebook's figure is the CLI's: the SVG of fit.plot_spectrum equals, byte for byte,
    # the spectrum SVG that `analyze states --html` inlines for the same .npy and title
    x, lengths = padded(seed=7)
    x = x.astype(np.float32)
    npy = tmp_path / "s.npy"
    np.save(npy, np.ascontiguousarray(x))
    np.save(tmp_path / "l.npy", lengths)
    subprocess.run(
        [analyze_binary(), "states", str(npy), "--lengths", str(tmp_path / "l.npy"), "--rank", "5",
         "--bootstrap", "0", "--html", str(tmp_path / "page.html")],
        capture_output=True, text=True, check=True,
    )
    page = (tmp_path / "page.html").read_text()
    title = f"Koopman spectrum of {npy}"
    svgs = [s[:s.index("</svg>") + len("</svg>")] for s in ("<svg" + p for p in page.split("<svg")[1:])]
    cli = [s for s in svgs if title in s]
    assert len(cli) == 1, f"{len(cli)} spectrum SVGs with the title in the page"
    fit = kann.fit(x, lengths=lengths, rank=5)
    fit.plot_spectrum(tmp_path / "py.png", title=title)
    ours = (tmp_path / "py.svg").read_text()
    assert ours.strip() == cli[0].strip()
