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
