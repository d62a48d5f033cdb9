"""The ``client=`` switch (issue 17): on a 2-worker LocalCluster the results equal the
single-machine path computed here, and a worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import cli
from distributed import Client, LocalCluster

from gutaxis import axis
from gutaxis.classify import cross_validate
from gutaxis.errors import InputError
from gutaxis.link.associate import associate
from gutaxis.link.permanova import permanova
from gutaxis.measure.beta import beta_diversity, bray_curtis
from gutaxis.scale import blocks, check_client

RUN1 = dict(  # MaAsLin2's testthat run 1 on HMP2 (tests/test_link_associate_parity.py)
    transform="AST",
    fixed_effects=["diagnosis", "dysbiosisnonIBD", "dysbiosisUC", "dysbiosisCD", "antibiotics", "age"],
    random_effects=["site", "subject"],
    reference="diagnosis,nonIBD",
    standardize=False,
)


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def hmp2(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return data, meta


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _table(n=160, taxa=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.gamma(0.3, size=(n, taxa)) * (rng.random((n, taxa)) < 0.6)
    return pd.DataFrame(X, index=[f"s{i:03d}" for i in range(n)], columns=[f"t{j}" for j in range(taxa)])


def test_blocks_cover_in_order():
    for n, k in [(10, 3), (7, 7), (5, 9), (1000, 4)]:
        parts = blocks(n, n_blocks=k)
        assert np.array_equal(np.concatenate([np.arange(n)[s] for s in parts]), np.arange(n))
    assert [(s.start, s.stop) for s in blocks(5, 2)] == [(0, 2), (2, 4), (4, 5)]


def test_client_is_validated():
    assert check_client(None) is None
    with pytest.raises(InputError, match=r"dask\.distributed\.Client"):
        check_client(42)
    with pytest.raises(InputError, match="client"):
        bray_curtis(_table(10, 5), client="not an address")


def test_associate_hmp2_run1_equals_single_path(client, hmp2):
    single = _quiet(associate, *hmp2, **RUN1)
    dask = _quiet(associate, *hmp2, client=client, **RUN1)
    pd.testing.assert_frame_equal(dask.results, single.results, check_exact=True)
    assert dask.significant.equals(single.significant)


def test_associate_lm_without_random_effects_equals_single_path(client, hmp2):
    kw = {k: v for k, v in RUN1.items() if k != "random_effects"}
    single = _quiet(associate, *hmp2, **kw)
    dask = _quiet(associate, *hmp2, client=client, **kw)
    pd.testing.assert_frame_equal(dask.results, single.results, check_exact=True)
    # many features: blocks of whole 512-feature chunks on both workers, the same bits
    X, meta = _cohort(n=300, F=2600, seed=2)
    kw = dict(fixed_effects=["diagnosis", "age"], reference="diagnosis,control")
    single = _quiet(associate, X, meta, **kw)
    dask = _quiet(associate, X, meta, client=client, **kw)
    pd.testing.assert_frame_equal(dask.results, single.results, check_exact=True)


def test_associate_refuses_maaslin3_on_a_cluster(client, hmp2):
    with pytest.raises(InputError, match="maaslin3"):
        associate(*hmp2, model="maaslin3", fixed_effects=["diagnosis"], client=client)


def test_bray_curtis_equals_single_path_exactly(client, tmp_path):
    X = _table(300, 80)
    single = bray_curtis(X)
    dask = bray_curtis(X, client=client)
    pd.testing.assert_frame_equal(dask, single, check_exact=True)
    jac = beta_diversity(X, "jaccard", client=client, block_size=7)
    pd.testing.assert_frame_equal(jac, beta_diversity(X, "jaccard"), check_exact=True)
    # into a chunked Zarr array: the rows the .npy path writes, bit for bit
    npy = bray_curtis(X, out=tmp_path / "d.npy", block_size=64)
    z = bray_curtis(X, out=tmp_path / "d.zarr", block_size=64, client=client)
    assert z.shape == (300, 300) and z.chunks[0] == 64
    np.testing.assert_array_equal(z[:], np.asarray(npy))
    assert z.attrs["samples"] == list(X.index)
    z_local = bray_curtis(X, out=tmp_path / "local.zarr", block_size=50)  # no client: the same blocks in turn
    np.testing.assert_array_equal(z_local[:], np.asarray(npy))
    np.testing.assert_allclose(z[:], single.to_numpy(), rtol=0, atol=1e-15)


def test_beta_cluster_refuses_in_memory_only_metrics(client):
    with pytest.raises(InputError, match="aitchison"):
        beta_diversity(_table(20, 6) + 1, "aitchison", client=client)


@pytest.mark.parametrize("strata", [None, "subject"])
def test_permanova_equals_single_path(client, strata):
    X = _table(120, 40, seed=3)
    meta = pd.DataFrame(
        {
            "group": np.tile(["a", "b", "c"], 40),
            "age": np.linspace(20, 70, 120),
            "subject": np.repeat(np.arange(30), 4),
        },
        index=X.index,
    )
    meta.loc[meta.group == "a", "age"] += 5.0
    D = bray_curtis(X)
    kw = dict(permutations=999, seed=11, strata=strata)
    single = permanova(D, meta, "~ group + age", **kw)
    dask = permanova(D, meta, "~ group + age", client=client, **kw)
    # the permutations are drawn on the client from the single path's seeded stream: same p
    pd.testing.assert_frame_equal(dask, single, check_exact=True)
    assert dask.attrs["params"]["seed"] == single.attrs["params"]["seed"]


def test_simulator_and_virtual_trial_equal_single_path(client):
    pop = axis.plausible_patients(700, "healthy", seed=7)
    s = axis.Schedule.baseline(60).set(fermented=6.0)
    single = axis.simulate(pop.params, pop.states, pop.inputs, s)
    dask = axis.simulate(pop.params, pop.states, pop.inputs, s, client=client)
    # the numba kernel is compiled with fastmath and parallel=True: LLVM may vectorise across the patients
    # of a thread's chunk, so a patient's last bit can depend on where the chunks fall (seen on a fresh
    # CI machine: 5 % of values off by <= 8e-14 relative). Equal to 1e-12, not bit for bit.
    np.testing.assert_allclose(dask.states, single.states, rtol=1e-12, atol=0)
    np.testing.assert_allclose(dask.output("il6"), single.output("il6"), rtol=1e-12, atol=0)
    from gutaxis.axis.trials import run_arms

    arms = {"control": axis.Schedule.baseline(30), "fiber": axis.Schedule.baseline(30).shift(fiber=20.0)}
    a = run_arms(pop, arms, record=[0, 30])
    b = run_arms(pop, arms, record=[0, 30], client=client)
    for name in arms:
        np.testing.assert_allclose(b.arms[name].states, a.arms[name].states, rtol=1e-12, atol=0)


def _toy(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2, int), np.zeros(n // 2, int)]
    X = rng.lognormal(size=(n, 12))
    X[y == 1, :2] *= 3
    X = pd.DataFrame(
        X / X.sum(1, keepdims=True), index=[f"s{i:02d}" for i in range(n)], columns=[f"t{j}" for j in range(12)]
    )
    return X, pd.Series(y, index=X.index)


def test_cross_validate_equals_single_path(client):
    X, y = _toy()
    kw = dict(n_splits=5, n_repeats=3, random_state=7, n_bootstrap=20, n_permutations=3)
    single = _quiet(cross_validate, "lasso", X, y, **kw)
    dask = _quiet(cross_validate, "lasso", X, y, client=client, **kw)
    for name, table in single.tables().items():
        pd.testing.assert_frame_equal(dask.tables()[name], table, check_exact=True, obj=name)


def _cohort(n, F, seed):
    """Synthetic abundances of ``F`` features, with a diagnosis, an age and subjects of 4 samples."""
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {"diagnosis": np.tile(["case", "control"], n // 2), "age": rng.normal(50, 10, n), "subject": np.arange(n) // 4},
        index=[f"s{i:03d}" for i in range(n)],
    )
    X = pd.DataFrame(rng.gamma(0.5, size=(n, F)) + 1e-3, index=meta.index, columns=[f"f{j}" for j in range(F)])
    return X, meta


def test_a_worker_killed_mid_run_loses_nothing(client):
    """Kill one worker process while an association run is in flight: the nanny restarts it, the
    scheduler reruns its tasks, and the result is complete and equal to the single path's."""
    F = 3000
    X, meta = _cohort(n=240, F=F, seed=5)
    kw = dict(fixed_effects=["diagnosis", "age"], random_effects=["subject"], reference="diagnosis,control")
    single = _quiet(associate, X, meta, **kw)
    pids = client.run(os.getpid)
    out: dict = {}

    def work():
        try:
            out["result"] = _quiet(associate, X, meta, client=client, **kw)
        except Exception as exc:  # pragma: no cover - reported below
            out["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline and not any(client.processing().values()):
        time.sleep(0.05)
    time.sleep(0.3)
    assert thread.is_alive(), "the run finished before a worker could be killed: make it longer"
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=300)
    assert "error" not in out, out.get("error")
    client.wait_for_workers(2, timeout=60)
    pd.testing.assert_frame_equal(out["result"].results, single.results, check_exact=True)
    assert out["result"].results["feature"].nunique() == F


def test_permanova_command_on_the_cluster_writes_the_single_path_table(client, tmp_path):
    X = _table(60, 30, seed=9)
    X.index.name = "sample"
    X.to_csv(tmp_path / "profile.tsv", sep="\t")
    meta = pd.DataFrame({"group": np.tile(["a", "b"], 30)}, index=X.index)
    meta.to_csv(tmp_path / "meta.tsv", sep="\t")
    args = ["permanova", tmp_path / "profile.tsv", "-m", tmp_path / "meta.tsv", "--formula", "~ group"]
    args += ["--permutations", 199, "--seed", 3]
    run = cli(*args, "-o", tmp_path / "cluster.tsv", "--scheduler", client.scheduler.address)
    assert run.exit_code == 0, run.output
    local = cli(*args, "-o", tmp_path / "local.tsv")
    assert local.exit_code == 0, local.output
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "cluster.tsv", sep="\t", index_col=0),
        pd.read_csv(tmp_path / "local.tsv", sep="\t", index_col=0),
        check_exact=True,
    )
    bad = cli(*args, "-o", tmp_path / "x.tsv", "--scheduler", "tcp://127.0.0.1:1", "--workers", 2)
    assert bad.exit_code == 2 and "not both" in bad.output


def test_atlas_cohorts_as_tasks_equal_single_path(client, shared):
    from gutaxis.atlas import run_atlas

    kw = dict(cohorts=["Sokol (MLRepo)", "GESPIC CD", "GMHI validation RA"], permutations=99)
    single = _quiet(run_atlas, shared("data"), **kw)
    dask = _quiet(run_atlas, shared("data"), client=client, **kw)
    for name in (
        "associations",
        "groups",
        "alpha",
        "permanova",
        "meta",
        "claims",
        "claim_evidence",
        "shared",
        "microbiomehd",
    ):
        pd.testing.assert_frame_equal(getattr(dask, name), getattr(single, name), check_exact=True, obj=name)
    cols = [c for c in single.cohorts.columns if c != "seconds"]  # wall times differ
    pd.testing.assert_frame_equal(dask.cohorts[cols], single.cohorts[cols], check_exact=True)


def _counts(n=120, taxa=2600, seed=3):
    """Integer counts (float32, as a Zarr store would hold them), rare features to filter, samples
    out of ID order, one sample empty, subjects of 3 samples."""
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(1.0, 1.5, taxa) * (rng.random(taxa) < 0.9)
    X = rng.poisson(lam * rng.lognormal(0, 0.5, (n, 1)) * (rng.random((n, taxa)) < 0.5)).astype(np.float32)
    X[7] = 0.0
    ids = [f"s{i:03d}" for i in rng.permutation(n)]
    meta = pd.DataFrame(
        {"group": np.tile(["a", "b"], n // 2), "age": rng.normal(50, 10, n), "subject": np.arange(n) // 3},
        index=ids,
    )
    return X, meta


def test_associate_lazy_zarr_equals_in_memory(client, tmp_path):
    import anndata as ad
    import dask.array as da

    X, meta = _counts()
    var = pd.DataFrame(index=[f"f{j}" for j in range(X.shape[1])])
    da.from_array(X, chunks=(X.shape[0], 97)).to_zarr(str(tmp_path / "X.zarr"))
    lazy = ad.AnnData(X=da.from_zarr(str(tmp_path / "X.zarr")), obs=meta, var=var)
    memory = ad.AnnData(X=X, obs=meta, var=var)
    for kw in (
        dict(fixed_effects=["group", "age"], random_effects=["subject"]),  # TSS/LOG, REML
        dict(fixed_effects=["group"], normalization="NONE", transform="AST", min_variance=0.5),  # OLS
    ):
        single = _quiet(associate, memory, **kw)
        dask = _quiet(associate, lazy, client=client, **kw)
        # exact: the counts are integers, so the per-sample totals (summed by block on the workers,
        # in extended precision) are exact whatever the order of the sums
        pd.testing.assert_frame_equal(dask.results, single.results, check_exact=True)
        assert dask.filtered == single.filtered and dask.notes == single.notes
        assert dask.data is None  # the normalised table is never gathered
    assert (single.results["error"] != "").any()  # some features were filtered


@pytest.mark.parametrize("layout", ["dense", "csc", "csr"])
def test_associate_lazy_h5ad_equals_in_memory(client, tmp_path, layout):
    """An .h5ad read lazily by anndata (dense and CSC chunked by features; CSR, which anndata
    chunks only by samples) gives the in-memory path's results bit for bit on the workers."""
    import anndata as ad
    import h5py
    import scipy.sparse as sp

    X, meta = _counts()
    var = pd.DataFrame(index=[f"f{j}" for j in range(X.shape[1])])
    stored = {"dense": X, "csc": sp.csc_matrix(X), "csr": sp.csr_matrix(X)}[layout]
    ad.AnnData(X=stored, obs=meta, var=var).write_h5ad(tmp_path / "t.h5ad")
    kw = dict(fixed_effects=["group", "age"], random_effects=["subject"])
    single = _quiet(associate, ad.AnnData(X=X, obs=meta, var=var), **kw)
    chunks = (40, -1) if layout == "csr" else (X.shape[0], 97)
    with h5py.File(tmp_path / "t.h5ad", "r") as f:
        lazy = ad.AnnData(
            X=ad.experimental.read_elem_lazy(f["X"], chunks=chunks),
            obs=ad.io.read_elem(f["obs"]),
            var=ad.io.read_elem(f["var"]),
        )
        assert type(lazy.X).__module__.startswith("dask")
        dask = _quiet(associate, lazy, client=client, **kw)
    pd.testing.assert_frame_equal(dask.results, single.results, check_exact=True)
    assert dask.data is None


def test_associate_lazy_warns_when_every_task_reads_the_whole_table(client):
    import anndata as ad
    import dask.array as da
    from dask.array.core import PerformanceWarning

    X, meta = _counts(n=30, taxa=5000)
    by_samples = ad.AnnData(X=da.from_array(X, chunks=(10, -1)), obs=meta)
    by_features = ad.AnnData(X=da.from_array(X, chunks=(-1, 1000)), obs=meta)
    kw = dict(fixed_effects=["group"], min_prevalence=0.3)
    with pytest.warns(PerformanceWarning, match="chunked by samples only .3 chunks of all 5,000 features"):
        slow = associate(by_samples, client=client, **kw)
    fast = _quiet_except(PerformanceWarning, associate, by_features, client=client, **kw)
    pd.testing.assert_frame_equal(slow.results, fast.results, check_exact=True)


def _quiet_except(category, func, *args, **kwargs):
    """Run ``func`` with every warning ignored except ``category``, which raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", category)
        return func(*args, **kwargs)


def test_associate_lazy_refuses_what_needs_the_whole_table(client, tmp_path):
    import anndata as ad
    import dask.array as da

    X, meta = _counts(n=30, taxa=20)
    lazy = ad.AnnData(X=da.from_array(X, chunks=(30, 7)), obs=meta)
    kw = dict(fixed_effects=["group"])
    with pytest.raises(InputError, match="client="):
        associate(lazy, **kw)
    with pytest.raises(InputError, match=r"TSS/NONE.*not normalization CLR"):
        associate(lazy, normalization="CLR", client=client, **kw)
    with pytest.raises(InputError, match="not transform LOGIT"):
        associate(lazy, transform="LOGIT", client=client, **kw)
    with pytest.raises(InputError, match="not min_abundance 5"):
        associate(lazy, min_abundance=5, client=client, **kw)
