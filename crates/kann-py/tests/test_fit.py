"""Contract of kann.fit against an independent numpy reference (SVD basis + least squares,
paper Eqs. 4-5, e_rel Eq. 12), and its errors on bad input."""

import threading
import time

import numpy as np
import pytest

import kann


def linear_states(b=8, t=50, h=6, seed=0):
    """States of a known stable linear system h_{t+1} = h_t A with eigenvalues inside the disc."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((h, h)))
    lam = np.linspace(0.95, 0.5, h)
    a = q @ np.diag(lam) @ q.T
    x = np.empty((b, t, h))
    x[:, 0] = rng.standard_normal((b, h))
    for i in range(1, t):
        x[:, i] = x[:, i - 1] @ a + 1e-3 * rng.standard_normal((b, h))
    return x, lam


def reference_fit(x, r):
    """Numpy reference: B = top-r right singular vectors of all states, C = lstsq(XB, YB)."""
    flat = x.reshape(-1, x.shape[2])
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    basis = vt[:r].T
    xs = x[:, :-1].reshape(-1, x.shape[2]) @ basis
    ys = x[:, 1:].reshape(-1, x.shape[2]) @ basis
    c, *_ = np.linalg.lstsq(xs, ys, rcond=None)
    pred = x[:, :-1].reshape(-1, x.shape[2]) @ basis @ c @ basis.T
    target = x[:, 1:].reshape(-1, x.shape[2])
    e_rel = np.mean(np.sum((pred - target) ** 2, 1) / np.sum(target**2, 1))
    lam = np.linalg.eigvals(c)
    return lam[np.argsort(-np.abs(lam), kind="stable")], e_rel


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_matches_numpy_reference(dtype):
    x, _ = linear_states()
    x = x.astype(dtype)
    fit = kann.fit(x, rank=4)
    lam, e_rel = reference_fit(x.astype(np.float64), 4)
    assert fit.eigenvalues.dtype == np.complex128
    assert fit.basis.shape == (6, 4) and fit.operator.shape == (4, 4)
    np.testing.assert_allclose(np.sort_complex(fit.eigenvalues), np.sort_complex(lam), atol=1e-9)
    assert abs(fit.relative_error - e_rel) < 1e-9


def test_eigenvalues_of_known_system_recovered_largest_first():
    x, lam = linear_states(b=20, t=200)
    fit = kann.fit(x, rank=6)
    mods = np.abs(fit.eigenvalues)
    assert np.all(np.diff(mods) <= 1e-12)
    np.testing.assert_allclose(np.sort(fit.eigenvalues.real), np.sort(lam), atol=2e-2)
    tau = fit.memory_horizon(eps=0.01)
    np.testing.assert_allclose(tau, np.log(0.01) / np.log(mods))


def test_memory_horizon_infinite_at_unit_modulus():
    t = np.arange(40)
    x = np.stack([np.cos(0.3 * t), np.sin(0.3 * t)], 1)[None]
    fit = kann.fit(np.ascontiguousarray(x), rank=2)
    np.testing.assert_allclose(np.abs(fit.eigenvalues), 1.0, atol=1e-9)
    # |λ| is 1 only to rounding: τ is huge or inf, never a small number
    assert np.all(fit.memory_horizon() > 1e6)


def test_lengths_exclude_padding():
    x, _ = linear_states(b=4, t=30)
    padded = np.concatenate([x, np.full((4, 10, 6), 1e6)], 1)
    a = kann.fit(x, rank=4)
    b = kann.fit(padded, lengths=np.full(4, 30), rank=4)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, atol=1e-12)


def test_bad_inputs_raise_named_errors():
    x, _ = linear_states()
    with pytest.raises(TypeError, match="states"):
        kann.fit(x[0])
    with pytest.raises(TypeError, match="states"):
        kann.fit(x.astype(np.int64))
    bad = x.copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match="states"):
        kann.fit(bad, rank=2)
    with pytest.raises(ValueError, match="lengths"):
        kann.fit(x, lengths=[50, 50], rank=2)
    with pytest.raises(ValueError):
        kann.fit(x, rank=0)
    with pytest.raises(ValueError, match="precision"):
        kann.fit(x, precision="f16")


def ticks_during(f):
    """How many times another Python thread ran (one tick per ms) while f() ran."""
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    th = threading.Thread(target=count)
    th.start()
    time.sleep(0.01)
    before = len(ticks)
    f()
    during = len(ticks) - before
    done.set()
    th.join()
    return during


def test_gil_released_during_fit():
    x = np.random.default_rng(1).standard_normal((64, 400, 128))
    during = ticks_during(lambda: kann.fit(x, rank=16))
    assert during > 5, f"the other thread ran {during} times during the fit"
