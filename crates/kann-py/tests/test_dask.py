"""kann.dask.fit on a LocalCluster of worker processes equals the in-memory kann.fit (1e-10)."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import kann  # noqa: E402
import kann.dask  # noqa: E402


def known_system(b=40, t=60, seed=0):
    """h_{t+1} = h_t A with eigenvalues 0.95 e^{±0.2i}, 0.8, 0.6, 0.4, 0.3 in a random basis."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    d = np.diag([0.0, 0.0, 0.8, 0.6, 0.4, 0.3])
    c, s = 0.95 * np.cos(0.2), 0.95 * np.sin(0.2)
    d[:2, :2] = [[c, s], [-s, c]]
    a = q @ d @ q.T
    x = np.empty((b, t, 6))
    x[:, 0] = rng.standard_normal((b, 6))
    for i in range(1, t):
        x[:, i] = x[:, i - 1] @ a
    lam = np.array([0.95 * np.exp(0.2j), 0.95 * np.exp(-0.2j), 0.8, 0.6, 0.4, 0.3])
    return x, lam


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_dask_fit_equals_in_memory_fit(client):
    x, lam = known_system()
    lengths = np.random.default_rng(1).integers(20, 61, size=x.shape[0])
    ref = kann.fit(x, lengths=lengths, rank=6)
    d = da.from_array(x, chunks=(7, 60, 6))  # 6 blocks of sequences over 2 workers
    got = kann.dask.fit(d, lengths=lengths, rank=6, split_every=2)
    np.testing.assert_allclose(got.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.eigenvalues, lam, atol=1e-8)  # the system's eigenvalues
    assert abs(got.relative_error - ref.relative_error) < 1e-10
    np.testing.assert_allclose(got.basis, ref.basis, atol=1e-10)
    assert got.num_pairs == ref.num_pairs
    # the blocks really ran on both worker processes
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_fit_tbh_mask_and_dask_lengths(client):
    x, _ = known_system(b=24, t=30, seed=2)
    lengths = np.random.default_rng(3).integers(5, 31, size=24)
    mask = np.arange(30)[None, :] < lengths[:, None]
    ref = kann.fit(x, lengths=lengths, rank=5, fit_steps="all")
    tbh = da.from_array(np.ascontiguousarray(x.transpose(1, 0, 2)), chunks=(30, 5, 6))
    got = kann.dask.fit(tbh, lengths=da.from_array(mask, chunks=(8, 30)), rank=5,
                        fit_steps="all", layout="tbh")
    np.testing.assert_allclose(got.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-10)
    assert abs(got.relative_error - ref.relative_error) < 1e-10
    assert got.fit_steps == "all" and got.num_states == ref.num_states == 24 * 30


def test_dask_bad_input():
    x, _ = known_system(b=4, t=10)
    with pytest.raises(TypeError, match="x: expected a dask"):
        kann.dask.fit(x)
    with pytest.raises(TypeError, match="x: .*int64"):
        kann.dask.fit(da.from_array(x.astype(np.int64)))
    with pytest.raises(ValueError, match=r"lengths: .*\[B\] = \[4\]"):
        kann.dask.fit(da.from_array(x), lengths=[10, 10])


def weak_mode_system(b=20, t=60, seed=7):
    """States x_t = P D^t c of a planted linear system (eigenvalues 0.97 e^{±0.123i}, 0.9, 0.7,
    -0.5, 0.3) whose mode 0.9 is excited 1e-6 times less than the others: the states have a
    singular value ~1e-6 of the largest, so fit.condition (that of X~ᵀX~) is ~1e12-1e13 while
    the operator's eigenvectors are well conditioned. Noise free: every error is rounding."""
    rng = np.random.default_rng(seed)
    lam = np.array([0.97 + 0.12j, 0.97 - 0.12j, 0.9, 0.7, -0.5, 0.3])
    d = np.diag([0.97, 0.97, 0.9, 0.7, -0.5, 0.3])
    d[0, 1], d[1, 0] = 0.12, -0.12  # row vectors: c_{t+1} = c_t D, x_t = c_t Pᵀ
    p = np.eye(6) + 0.3 * rng.standard_normal((6, 6))
    c = rng.standard_normal((b, 6))
    c[:, 2] *= 1e-6
    x = np.empty((b, t, 6))
    for i in range(t):
        x[:, i] = c @ p.T
        c = c @ d
    return x, lam


def eig_error(got, want):
    """Largest distance of a greedy one-to-one matching of two eigenvalue sets."""
    left = list(want)
    worst = 0.0
    for z in got:
        j = int(np.argmin([abs(z - w) for w in left]))
        worst = max(worst, abs(z - left.pop(j)))
    return worst


def test_dask_tsqr_fit_equals_in_memory_fit(client):
    x, lam = known_system()
    lengths = np.random.default_rng(1).integers(20, 61, size=x.shape[0])
    ref = kann.fit(x, lengths=lengths, rank=6)
    d = da.from_array(x, chunks=(7, 60, 6))
    got = kann.dask.fit(d, lengths=lengths, rank=6, split_every=2, merge="tsqr")
    np.testing.assert_allclose(got.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.eigenvalues, lam, atol=1e-8)
    np.testing.assert_allclose(got.basis, ref.basis, atol=1e-10)
    np.testing.assert_allclose(got.operator, ref.operator, atol=1e-10)
    assert abs(got.relative_error - ref.relative_error) < 1e-10
    assert got.num_pairs == ref.num_pairs and got.num_states == ref.num_states
    acc = kann.dask.gram(d, lengths=lengths, split_every=3, merge="tsqr")
    assert isinstance(acc, kann.TsqrAccumulator) and acc.num_sequences == 40


def test_dask_tsqr_ill_conditioned(client):
    x, lam = weak_mode_system()
    d = da.from_array(x, chunks=(5, 60, 6))
    gram = kann.dask.fit(d, rank=6, split_every=2)
    tsqr = kann.dask.fit(d, rank=6, split_every=2, merge="tsqr")
    ref = kann.fit(x, rank=6)  # in memory: falls back to SVD + QR on the data (condition > 1e10)
    assert tsqr.condition > 1e12 and abs(tsqr.condition / gram.condition - 1) < 1e-2
    err_gram, err_tsqr, err_ref = (eig_error(f.eigenvalues, lam) for f in (gram, tsqr, ref))
    assert err_tsqr < 1e-8 and err_ref < 1e-8, (err_tsqr, err_ref)
    assert err_gram > 1e-6 and err_gram > 1e3 * err_tsqr, (err_gram, err_tsqr)
    np.testing.assert_allclose(tsqr.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-8)
    assert any("condition" in w for w in gram.warnings) and not tsqr.warnings


def test_dask_bad_merge():
    x, _ = known_system(b=4, t=10)
    d = da.from_array(x)
    with pytest.raises(ValueError, match="merge: .*'qr'"):
        kann.dask.fit(d, merge="qr")
    with pytest.raises(ValueError, match="merge"):
        kann.dask.gram(d, merge="Gram")
    with pytest.raises(ValueError, match="precision: the TSQR merge"):
        kann.dask.fit(d, merge="tsqr", precision="mixed")
