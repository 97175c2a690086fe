"""Genotypes left packed in the .bed (2 bits each): every kernel and every fit must
give exactly what the int8 matrix gives.

The packed kernels read the same integer dosages through ``_kernels.column`` and do
the same arithmetic in the same order, so the tests ask for equality bit for bit,
not a tolerance. Sizes are odd on purpose: ``n`` not a multiple of 4 leaves padding
bits in each SNP's last byte, which must never be read as a sample.
"""

import numpy as np
import pandas as pd
import pytest

from sparselmm import _kernels, plink
from sparselmm._design import PreparedGenotypes, take_columns, take_rows
from sparselmm.methods import make_model

SENTINEL = np.int8(_kernels.INT8_MISSING)


def genotypes(n, p, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.02, 0.5, p), size=(n, p)).astype(np.int8)
    G[rng.random((n, p)) < 0.03] = SENTINEL  # missing calls
    G[:, 1] = 2  # monomorphic
    G[:, 2] = SENTINEL  # all missing
    G[:, 3] = np.where(np.arange(n) % 2, 0, SENTINEL)  # monomorphic among the calls
    return np.asfortranarray(G)


def packed(tmp_path, G):
    n, p = G.shape
    plink.write_bed(tmp_path / "g", G, [f"s{i}" for i in range(n)], [f"r{j}" for j in range(p)])
    return plink.open_packed(tmp_path / "g")


@pytest.mark.parametrize("n", [37, 38, 39, 40])
def test_packed_dosages_are_the_bed_readers(tmp_path, n):
    G = genotypes(n, 29)
    P = packed(tmp_path, G)
    assert P.shape == G.shape and P.data.dtype == np.uint8
    np.testing.assert_array_equal(take_columns(P, np.arange(29)), G)
    np.testing.assert_array_equal(take_columns(P, np.arange(29)),
                                  plink.read_genotypes(tmp_path / "g"))
    rows = np.array([n - 1, 0, 5, n - 2, 17])  # any order, the last samples included
    np.testing.assert_array_equal(take_columns(take_rows(P, rows), [4, 0, 28]),
                                  G[rows][:, [4, 0, 28]])
    assert take_rows(P, rows).data is P.data  # an index, not a copy


def test_padding_bits_never_enter_a_kernel(tmp_path):
    """Set the padding bits of every SNP's last byte to a genotype code: the packed
    matrix of the n samples must not change (a .bed written for more samples would
    be refused by check_fileset; here the kernels alone are tested)."""
    G = genotypes(37, 11)
    P = packed(tmp_path, G)
    data = np.array(P.data)
    data[:, -1] |= 0b10101000  # samples 37..39 of a 40-slot last byte: heterozygous
    Q = _kernels.PackedBed(data, P.rows, P.shape)
    for a, b in zip(_kernels.column_moments(G, SENTINEL), _kernels.column_moments(Q, SENTINEL)):
        np.testing.assert_array_equal(a, b)


def kernel_inputs(G, seed=1):
    n, p = G.shape
    rng = np.random.default_rng(seed)
    mean, sd, n_miss = _kernels.column_moments(G, SENTINEL)
    scale = np.divide(1.0, sd, out=np.zeros(p), where=sd > 0)
    k = 3
    C = rng.normal(size=(k, p)) * 0.1
    d = np.full(p, float(n))
    return mean, scale, n_miss, C, d, rng


@pytest.mark.parametrize("rows", ["all", "fold", "shuffled"])
def test_every_kernel_gives_the_int8_answer(tmp_path, rows):
    G_all = genotypes(53, 41)
    P_all = packed(tmp_path, G_all)
    idx = {"all": np.arange(53), "fold": np.flatnonzero(np.arange(53) % 5 != 2),
           "shuffled": np.random.default_rng(4).permutation(53)[:40]}[rows]
    G, P = np.asfortranarray(G_all[idx]), take_rows(P_all, idx)
    n, p = G.shape
    mean, scale, n_miss, C, d, rng = kernel_inputs(G)
    for a, b in zip(_kernels.column_moments(G, SENTINEL), _kernels.column_moments(P, SENTINEL)):
        np.testing.assert_array_equal(a, b)
    b_vec = rng.normal(size=p) * (rng.random(p) < 0.5)
    outs = [np.zeros(n), np.zeros(n)]
    for X, out in zip((G, P), outs):
        _kernels.matvec(X, SENTINEL, mean, scale, b_vec, out)
    np.testing.assert_array_equal(*outs)
    outs_matvec = outs[0]
    z = rng.normal(size=n)
    active = rng.random(p) < 0.8
    outs = [np.zeros(p), np.zeros(p)]
    for X, out in zip((G, P), outs):
        _kernels.rmatvec(X, SENTINEL, mean, scale, active, z, out)
    np.testing.assert_array_equal(*outs)
    blocks = [np.empty((n, 7)), np.empty((n, 7))]
    for X, out in zip((G, P), blocks):
        _kernels.decode_block(X, SENTINEL, mean, scale, 30, 37, out)
    np.testing.assert_array_equal(*blocks)
    miss = [_kernels.missing_calls(X, SENTINEL, n_miss) for X in (G, P)]
    for a, b in zip(*miss):
        np.testing.assert_array_equal(a, b)
    # X b on the raw dosages, missing calls taken out afterwards: the column-by-column
    # answer up to the order of the sums, packed equal to int8 bit for bit
    raw = [np.zeros(n), np.zeros(n)]
    for X, out, (ptr, mrows) in zip((G, P), raw, miss):
        _kernels.matvec_raw(X, mean, scale, b_vec, ptr, mrows, out)
    np.testing.assert_array_equal(*raw)
    np.testing.assert_allclose(raw[0], outs_matvec, rtol=1e-12, atol=1e-12)
    # SparseLMM's coordinate ascent, the hybrid's mixture sweep, the Lasso's epoch and
    # its screening correlations: every output array and the return value
    order = rng.permutation(p)
    state0 = dict(v=rng.normal(size=n), u=rng.normal(size=3), alpha=rng.random(p),
                  mu=rng.normal(size=p), s2=rng.random(p))
    res = []
    for X in (G, P):
        s = {k: x.copy() for k, x in state0.items()}
        ch = _kernels.sweep(X, SENTINEL, mean, scale, C, d, order, s["v"], s["u"],
                            s["alpha"], s["mu"], s["s2"], 1.3, 0.2, -3.0)
        res.append((ch, s))
    assert res[0][0] == res[1][0]
    for key in state0:
        np.testing.assert_array_equal(res[0][1][key], res[1][1][key])
    K = 4
    prior_var, log_pi = np.array([0.0, 0.01, 0.1, 1.0]), np.log([0.9, 0.05, 0.03, 0.02])
    res = []
    for X in (G, P):
        v, u = state0["v"].copy(), state0["u"].copy()
        phi, mu, s2, b = np.full((p, K), 0.25), np.zeros((p, K)), np.zeros((p, K)), np.zeros(p)
        ch = _kernels.sweep_mix(X, SENTINEL, mean, scale, C, d, active, v, u, phi, mu, s2, b,
                                1.1, prior_var, log_pi)
        res.append((ch, v, u, phi, mu, b))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    w = (rng.random(n) < 0.75).astype(float)
    res = []
    for X in (G, P):
        v, u, bb = state0["v"].copy(), state0["u"].copy(), np.zeros(p)
        step = _kernels.enet_epoch(X, SENTINEL, mean, scale, C, d, order, w, v, u, bb, 2.0, 0.5)
        res.append((step, v, u, bb))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    Ct = np.ascontiguousarray(C.T)
    outs = [np.zeros(p), np.zeros(p)]
    for X, out, (ptr, mrows) in zip((G, P), outs, miss):
        _kernels.correlations(X, mean, scale, Ct, order, ptr, mrows, w * z, state0["u"], out)
    np.testing.assert_array_equal(*outs)
    # the inner folds' KKT checks in one pass: three fits at once, each its own
    # weights, residual and projections; equal to one pass per fit up to the order of
    # the sums, and the packed pass equal to the int8 pass bit for bit
    F = 3
    W = np.column_stack([(rng.random(n) < 0.8) * rng.normal(size=n) for _ in range(F)])
    U = rng.normal(size=(F, 3))
    Cts = np.stack([np.ascontiguousarray((C * (1 + f)).T) for f in range(F + 1)])
    which = np.array([2, 0, 3])  # the fits asking, among the F + 1 stacked
    many = [np.zeros((p, F)), np.zeros((p, F))]
    for X, out, (ptr, mrows) in zip((G, P), many, miss):
        _kernels.correlations_many(X, mean, scale, Cts, which, order, ptr, mrows,
                                   np.asfortranarray(W), U, out)
    np.testing.assert_array_equal(*many)
    for f in range(F):
        one = np.zeros(p)
        _kernels.correlations(G, mean, scale, Cts[which[f]], order, *miss[0], W[:, f].copy(),
                              U[f], one)
        np.testing.assert_allclose(many[0][:, f], one, rtol=1e-12, atol=1e-12)


def fit_problem(tmp_path, n=203, p=150):
    G = genotypes(n, p, seed=5)
    rng = np.random.default_rng(6)
    x = np.where(G == SENTINEL, 1, G).astype(float)
    y = 0.8 * x[:, 10] - 0.5 * x[:, 20] + 0.3 * x[:, 21] + rng.normal(size=n)
    Z = rng.normal(size=(n, 2))
    train = np.sort(rng.choice(n, 160, replace=False))
    test = np.setdiff1d(np.arange(n), train)
    return G, packed(tmp_path, G), y, Z, train, test


METHOD_OPTIONS = {"sparselmm": None, "sparselmm_logistic": None, "hybrid": None, "ridge": None,
                  "top1": None, "lasso_logistic": {"n_alphas": 10, "cv": 3, "eps": 0.1},
                  "lasso": {"n_jobs": 1}, "elasticnet": {"n_jobs": 1},
                  "bslmm": {"burn_in": 100, "samples": 500}}


@pytest.mark.parametrize("method", sorted(METHOD_OPTIONS))
def test_each_method_fits_the_packed_file_as_the_int8_matrix(tmp_path, method):
    if method == "bslmm":
        pytest.importorskip("shutil").which("gemma") or pytest.skip("gemma not installed")
    G, P, y, Z, train, test = fit_problem(tmp_path)
    if method.endswith("_logistic"):
        y = (y > np.median(y)).astype(float)
    fits = []
    for X_train, X_test in ((G[train], G[test]), (take_rows(P, train), take_rows(P, test))):
        model = make_model(method, METHOD_OPTIONS[method]).fit(X_train, y[train], Z[train])
        fits.append((model.coef_, model.intercept_, model.predict(X_test, Z[test])))
    for a, b in zip(*fits):
        np.testing.assert_array_equal(a, b)
    assert np.count_nonzero(fits[0][0]) > 0


@pytest.mark.parametrize("method", ["lasso", "elasticnet"])
def test_passes_split_between_threads_change_nothing(tmp_path, monkeypatch, method):
    # the shared passes of the inner folds, the refit's own passes and the first pass
    # at b = 0 are split into ranges of SNPs, one per thread (penalised.in_chunks);
    # each SNP's number is computed as before, so the fits agree bit for bit
    from sparselmm import penalised

    G, P, y, Z, train, test = fit_problem(tmp_path)
    for X in (G[train], take_rows(P, train)):
        fits = []
        for chunk in (10**9, 7):  # not split; split into ranges of 7 SNPs or more
            monkeypatch.setattr(penalised, "MIN_CHUNK", chunk)
            model = make_model(method, {"n_jobs": 3, "n_alphas": 12}).fit(X, y[train], Z[train])
            fits.append((model.coef_, model.mse_path_, model.intercept_))
        for a, b in zip(*fits):
            np.testing.assert_array_equal(a, b)
        assert np.count_nonzero(fits[0][0]) > 0
    ranges = []
    monkeypatch.setattr(penalised, "MIN_CHUNK", 7)
    penalised.in_chunks(3, 150, lambda a, b: ranges.append((int(a), int(b))))
    assert sorted(ranges) == [(0, 50), (50, 100), (100, 150)]  # three threads, all SNPs


def test_prepared_packed_genotypes_fit_as_int8(tmp_path):
    G, P, y, Z, train, _ = fit_problem(tmp_path)
    a = make_model("sparselmm").fit(PreparedGenotypes(G[train], Z[train]), y[train])
    b = make_model("sparselmm").fit(PreparedGenotypes(take_rows(P, train), Z[train]), y[train])
    np.testing.assert_array_equal(a.pip_, b.pip_)


def test_a_fold_job_gives_the_same_tables_packed(tmp_path):
    """What a fit_real job writes (predictions and metrics) is the same with the
    genotypes packed, for genome-wide and cis-window phenotypes in one group."""
    from sparselmm.cv import write_folds
    from sparselmm.fitting import fit_fold

    G, _, y, Z, _, _ = fit_problem(tmp_path)
    iids = [f"s{i}" for i in range(G.shape[0])]
    y2 = y[::-1] + 0.1
    y2[7] = np.nan  # a phenotype with a missing value: its own sample set
    pd.DataFrame({"iid": iids, "a": y, "b": y2}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                        index=False)
    pd.DataFrame({"iid": iids, "c1": Z[:, 0], "c2": Z[:, 1]}).to_csv(tmp_path / "c.tsv",
                                                                   sep="\t", index=False)
    write_folds(tmp_path / "f.tsv", iids, 5, 0, ["a", "b"])
    kw = dict(bed=tmp_path / "g", phenotypes=tmp_path / "p.tsv", names=["a", "b"],
              folds=tmp_path / "f.tsv", fold=2, covariates=tmp_path / "c.tsv")
    for method in ("sparselmm", "lasso"):
        for windows in (None, {"b": np.arange(5, 60)}):
            opts = METHOD_OPTIONS[method]
            a = fit_fold(**kw, method=method, options=opts, windows=windows)
            b = fit_fold(**kw, method=method, options=opts, windows=windows, storage="packed")
            pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
            pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    with pytest.raises(ValueError, match="genotype_storage must be auto, int8 or packed"):
        fit_fold(**kw, method="top1", storage="int4")


def test_methods_with_an_n_by_n_matrix_are_refused_early_above_their_size():
    from sparselmm.methods import check_sample_size, scalable_methods

    check_sample_size(["ridge", "hybrid", "sparselmm"], 20_000, "x.fam")  # at the limit
    check_sample_size(["sparselmm", "lasso", "top1"], 500_000, "x.fam")
    with pytest.raises(ValueError) as err:
        check_sample_size(["sparselmm", "ridge", "bslmm"], 50_000, "big.fam")
    msg = str(err.value)
    assert msg.startswith("ridge, bslmm: 50,000 samples (big.fam)") and "20 GB" in msg
    assert "sparselmm, sparselmm_logistic, lasso, elasticnet, lasso_logistic" in msg
    # auto scales when its candidates do (default: sparselmm, lasso)
    assert scalable_methods() == ["sparselmm", "sparselmm_logistic", "lasso", "elasticnet",
                                  "lasso_logistic", "elasticnet_logistic", "top1", "auto"]
    with pytest.raises(ValueError, match="^auto: 50,000 samples"):
        check_sample_size(["auto"], 50_000, "big.fam",
                          {"auto": {"candidates": ["sparselmm", "ridge"]}})
    # the hybrid's mean-field E-step sweeps over SNPs only
    check_sample_size(["hybrid"], 50_000, "big.fam", {"hybrid": {"inference": "mean_field"}})
    with pytest.raises(ValueError, match="hybrid with inference: mean_field"):
        check_sample_size(["hybrid"], 50_000, "big.fam", {"hybrid": {"inference": "vamp"}})


def test_auto_storage_packs_above_2000_mb_of_int8():
    from sparselmm.methods import genotype_storage

    assert genotype_storage("auto", 1635.0) == "int8"  # the paper's 5,123 x 319,147
    assert genotype_storage("auto", 2001.0) == "packed"
    assert genotype_storage("int8", 1e6) == "int8"
    assert genotype_storage("packed", 1.0) == "packed"


@pytest.mark.parametrize("snps", ["run", "scattered"])
def test_pcs_from_the_packed_file_are_the_int8_pcs(tmp_path, snps):
    from sparselmm._design import take_snps
    from sparselmm.realdata import genotype_pcs

    G = genotypes(61, 90, seed=8)
    P = packed(tmp_path, G)
    cols = np.arange(10, 80) if snps == "run" else np.flatnonzero(np.arange(90) % 3 != 1)
    Q = take_snps(P, cols)
    assert (Q.data.base is not None) == (snps == "run")  # a view of the mapped file
    for a, b in zip(genotype_pcs(G[:, cols], 3, seed=2), genotype_pcs(Q, 3, seed=2)):
        np.testing.assert_array_equal(a, b)
