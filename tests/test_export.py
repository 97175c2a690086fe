"""Trained models: final fits, PLINK 2 --score and PrediXcan files, scoring a cohort."""

import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparselmm import plink
from sparselmm.export import (final_fit, match_snps, predixcan_filter, read_bim, score_cohort,
                              write_predixcan_db)

N, P = 150, 400
BASES = np.array(list("ACGT"))


def cohort(tmp_path, seed=0):
    """GEUVADIS-like data: real-looking SNP IDs and alleles, missing calls, PCs-like
    covariates, a phenotype with a few strong SNPs; written as the workflow's files."""
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.05, 0.5, P), size=(N, P)).astype(np.int8)
    G[rng.random((N, P)) < 0.01] = -127
    pairs = np.array([rng.choice(BASES, 2, replace=False) for _ in range(P)])
    iids = [f"HG{i:05d}" for i in range(N)]
    snps = [f"22_{16_000_000 + 137 * j}" for j in range(P)]
    props = {"fid": iids, "iid": iids, "sid": snps, "chromosome": ["22"] * P,
             "bp_position": [16_000_000 + 137 * j for j in range(P)],
             "allele_1": list(pairs[:, 0]), "allele_2": list(pairs[:, 1])}
    plink.write_bed_props(tmp_path / "train", G, props)
    X = np.where(G == -127, 0, G).astype(float)
    y = X[:, [3, 50, 200]] @ [1.5, -1.2, 1.0] + 0.7 * rng.normal(size=N)
    Z = rng.normal(size=(N, 2))
    y += Z @ [0.3, -0.2]
    pd.DataFrame({"iid": iids, "expr": y}).to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    pd.DataFrame({"iid": iids, "PC1": Z[:, 0], "PC2": Z[:, 1]}).to_csv(
        tmp_path / "cov.tsv", sep="\t", index=False)
    return G, props, y, Z


def fit(tmp_path, method, **kw):
    return final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv", phenotype="expr",
                     covariates=tmp_path / "cov.tsv", method=method, options=kw,
                     transform="none", out=tmp_path / method, log=io.StringIO())


def reshuffled(tmp_path, G, props, name, *, seed=1, drop=(), missing=0.02):
    """Another fileset of the same people: SNPs reordered, some with A1/A2 swapped (their
    dosages counting the other allele), some SNPs left out, other missing calls."""
    rng = np.random.default_rng(seed)
    keep = np.setdiff1d(np.arange(P), drop)
    order = rng.permutation(keep)
    H = G[:, order].copy()
    swap = rng.random(order.size) < 0.3
    miss = H == -127
    H[:, swap] = 2 - H[:, swap]
    H[miss] = -127
    H[rng.random(H.shape) < missing] = -127
    a1 = np.array(props["allele_1"])[order]
    a2 = np.array(props["allele_2"])[order]
    new = dict(props, sid=list(np.array(props["sid"])[order]),
               chromosome=list(np.array(props["chromosome"])[order]),
               bp_position=list(np.array(props["bp_position"])[order]),
               allele_1=list(np.where(swap, a2, a1)), allele_2=list(np.where(swap, a1, a2)))
    plink.write_bed_props(tmp_path / name, H, new)
    # the cohort's genotypes as counts of the model's A1, columns in model order
    back = np.full(G.shape, -127, dtype=np.int8)
    for k, j in enumerate(order):
        col = H[:, k].copy()
        if swap[k]:
            col = np.where(col == -127, -127, 2 - col).astype(np.int8)
        back[:, j] = col
    return back, int(swap.sum())


@pytest.mark.parametrize("method", ["sparselmm", "hybrid", "ridge", "lasso", "elasticnet"])
def test_model_files_reproduce_predict(tmp_path, method):
    G, props, y, Z = cohort(tmp_path)
    model, info = fit(tmp_path, method)
    w = pd.read_csv(tmp_path / f"{method}.weights.tsv", sep="\t", dtype={"snp": str})
    col = [props["sid"].index(s) for s in w["snp"]]
    assert list(w["a1"]) == [props["allele_1"][j] for j in col]
    assert len(w) == (P if method in ("sparselmm", "hybrid", "ridge") else (model.coef_ != 0).sum())
    X = np.where(G[:, col] == -127, w["a1_mean"].to_numpy(), G[:, col])
    zc = np.array([info["covariates"][c] for c in ("PC1", "PC2")])
    by_hand = info["intercept"] + Z @ zc + X @ w["weight"].to_numpy()
    np.testing.assert_allclose(by_hand, model.predict(G, Z), atol=1e-8)
    assert info["n_samples"] == N and info["hyperparameters"]["converged"] is True
    assert json.loads((tmp_path / f"{method}.json").read_text())["n_snps"] == P
    score = pd.read_csv(tmp_path / f"{method}.score", sep="\t")
    assert list(score.columns) == ["ID", "A1", "WEIGHT"]
    assert len(score) == info["n_snps_in_model"] == int((w["weight"] != 0).sum())
    if method in ("lasso", "elasticnet"):
        assert len(score) < P  # zero weights left out


@pytest.mark.skipif(shutil.which("plink2") is None, reason="needs Debian's plink2")
@pytest.mark.parametrize("method", ["sparselmm", "lasso"])
def test_plink2_score_equals_predict(tmp_path, method):
    G, props, y, Z = cohort(tmp_path)
    model, _ = fit(tmp_path, method)
    back, n_swapped = reshuffled(tmp_path, G, props, "other")
    assert n_swapped > 50
    out = tmp_path / "plink"
    subprocess.run(["plink2", "--bfile", str(tmp_path / "other"), "--read-freq",
                    str(tmp_path / f"{method}.afreq"), "--score", str(tmp_path / f"{method}.score"),
                    "1", "2", "3", "header", "cols=+scoresums", "--out", str(out)],
                   check=True, capture_output=True)
    s = pd.read_csv(f"{out}.sscore", sep="\t")
    plink_sum = s["SCORE1_SUM"].to_numpy()
    w = pd.read_csv(tmp_path / f"{method}.weights.tsv", sep="\t")
    # SCORE1_SUM = sum_j w_j x_j, missing calls at twice the .afreq frequency (the
    # training mean): predict's SNP part plus the constant sum_j w_j a1_mean_j
    ours = model.predict_genetic(back) + w["weight"] @ w["a1_mean"]
    # plink2 prints 6 significant digits: equal up to half a unit in the 6th digit
    half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(plink_sum))) - 5)
    assert np.all(np.abs(plink_sum - ours) <= half_unit * (1 + 1e-6)), np.max(
        np.abs(plink_sum - ours) / half_unit)


def test_predixcan_database(tmp_path):
    G, props, y, Z = cohort(tmp_path)
    models = {}
    for gene, seed in (("ENSG00000172404.4", 0), ("ENSG00000273295.1", 1)):
        pd.DataFrame({"iid": props["iid"], "expr": y + seed}).to_csv(tmp_path / "pheno.tsv",
                                                                    sep="\t", index=False)
        models[gene] = fit(tmp_path, "lasso")[0]
        for ext in (".weights.tsv", ".json"):
            shutil.copy(tmp_path / f"lasso{ext}", tmp_path / f"{gene}{ext}")
    names = pd.DataFrame({"genename": ["APOL1"], "gene_type": ["protein_coding"]},
                         index=["ENSG00000172404.4"])
    extra = write_predixcan_db(tmp_path / "m.db", [(g, tmp_path / g) for g in models],
                               n_samples=N, chromosome="22", cv_seed=1, names=names)
    con = sqlite3.connect(tmp_path / "m.db")
    tables = ("weights", "extra", "construction", "sample_info")
    cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    assert cols["weights"] == ["rsid", "gene", "weight", "ref_allele", "eff_allele"]
    assert cols["extra"][:2] == ["gene", "genename"]
    assert {"n.snps.in.model", "pred.perf.R2", "pred.perf.pval", "rho_avg"} <= set(cols["extra"])
    assert con.execute("SELECT gene, genename, gene_type FROM extra").fetchall() == [
        ("ENSG00000172404.4", "APOL1", "protein_coding"),
        ("ENSG00000273295.1", "ENSG00000273295.1", None)]  # (no name given: the ID)
    assert con.execute("SELECT * FROM construction").fetchall() == [("22", 1)]
    assert con.execute("SELECT * FROM sample_info").fetchall() == [(N,)]
    # PredictDB's filter on the CV correlation and its p-value; rho^2 is pred.perf.R2
    np.testing.assert_allclose(extra["rho_avg"] ** 2, extra["pred.perf.R2"])
    passing = (extra["rho_avg"] > 0.1) & (extra["pred.perf.pval"] < 0.05)
    assert predixcan_filter(extra) == extra.loc[passing, "gene"].tolist()
    bim = read_bim(tmp_path / "train").set_index("snp")
    for gene, model in models.items():
        rows = pd.read_sql("SELECT * FROM weights WHERE gene = ?", con, params=[gene])
        col = bim.index.get_indexer(rows["rsid"])
        assert (bim["a1"].to_numpy()[col] == rows["eff_allele"]).all()
        assert (bim["a2"].to_numpy()[col] == rows["ref_allele"]).all()
        n = con.execute('SELECT "n.snps.in.model" FROM extra WHERE gene = ?', [gene]).fetchone()
        assert n[0] == len(rows) > 0
        # the weights reproduce predict's SNP part (centred at the training means)
        X = np.where(G == -127, model.x_mean_, G)[:, col]
        np.testing.assert_allclose(X @ rows["weight"] - model.x_mean_[col] @ rows["weight"],
                                   model.predict_genetic(G), atol=1e-8)
    con.close()


def test_scoring_a_cohort_with_absent_and_swapped_snps(tmp_path):
    G, props, y, Z = cohort(tmp_path)
    model, info = fit(tmp_path, "sparselmm")
    drop = np.arange(0, P, 17)  # 24 model SNPs absent from the cohort
    back, n_swapped = reshuffled(tmp_path, G, props, "cohort", drop=drop)
    log = io.StringIO()
    preds, counts = score_cohort(tmp_path / "cohort", [("expr", "sparselmm",
                                                         tmp_path / "sparselmm")],
                                 min_fraction=0.8, log=log)
    row = counts.iloc[0]
    assert (row.model_snps, row.matched, row.absent, row.flipped) == (P, P - drop.size,
                                                                      drop.size, n_swapped)
    assert row.missing_calls_imputed == int((np.delete(back, drop, axis=1) == -127).sum())
    assert f"{P - drop.size} matched ({n_swapped} with A1/A2 swapped" in log.getvalue()
    # absent SNPs count at the training mean, exactly like a missing call in predict
    back[:, drop] = -127
    np.testing.assert_allclose(preds["genetic_value"], model.predict_genetic(back), atol=1e-8)
    zbar = np.tile(Z.mean(axis=0), (N, 1))
    np.testing.assert_allclose(preds["prediction"], model.predict(back, zbar), atol=1e-8)
    assert list(preds["iid"]) == props["iid"]
    with pytest.raises(ValueError, match=f"only {P - drop.size} of the {P} SNPs of the "
                                         "sparselmm model of 'expr'.*min_snp_fraction is 0.95"):
        score_cohort(tmp_path / "cohort", [("expr", "sparselmm", tmp_path / "sparselmm")],
                     min_fraction=0.95)


def test_alleles_that_differ_are_not_scored():
    w = pd.DataFrame({"snp": ["a", "b", "c", "d"], "a1": ["A", "C", "A", "G"],
                      "a2": ["G", "T", "T", "C"]})
    bim = pd.DataFrame({"snp": ["d", "c", "b", "x"], "a1": ["C", "A", "T", "A"],
                        "a2": ["G", "G", "C", "G"]})
    m = match_snps(w, bim)
    assert list(m["status"]) == ["absent", "flipped", "alleles differ", "flipped"]
    assert list(m["col"]) == [-1, 2, -1, 0]


def test_cv_accuracy_in_the_model_file(tmp_path):
    G, props, y, Z = cohort(tmp_path)
    from sparselmm.cv import write_folds
    from sparselmm.fitting import fit_fold

    write_folds(tmp_path / "folds.tsv", props["iid"], 3, 0, ["expr"])
    metrics, preds = [], []
    for k in range(3):
        p, m, _, _ = fit_fold(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
                           names=["expr"], folds=tmp_path / "folds.tsv", fold=k,
                           method="sparselmm", covariates=tmp_path / "cov.tsv")
        preds.append(tmp_path / f"p{k}.tsv")
        metrics.append(tmp_path / f"m{k}.tsv")
        p.to_csv(preds[-1], sep="\t", index=False)
        m.to_csv(metrics[-1], sep="\t", index=False)
    _, info = final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
                        phenotype="expr", covariates=tmp_path / "cov.tsv", method="sparselmm",
                        options={}, transform="none", out=tmp_path / "m", cv_metrics=metrics,
                        cv_predictions=preds, log=io.StringIO())
    cv = json.loads((tmp_path / "m.json").read_text())["cv"]
    assert cv == info["cv"] and cv["folds"] == 3 and cv["n"] == N
    assert cv["r2_snp_mean"] > 0.3 and cv["pred_perf_pval"] < 1e-10


def test_pruned_export_records_what_it_changes(tmp_path):
    G, props, y, Z = cohort(tmp_path)
    model, info = final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
                            phenotype="expr", covariates=tmp_path / "cov.tsv",
                            method="sparselmm", options={}, transform="none",
                            out=tmp_path / "m", min_pip=0.01, log=io.StringIO())
    w = pd.read_csv(tmp_path / "m.weights.tsv", sep="\t")
    assert (w["pip"] >= 0.01).all() and 3 <= len(w) < P
    assert info["pruning"]["snps_left_out"] == P - len(w)
    # the exported model: the kept SNPs, the others at their training mean
    col = [props["sid"].index(s) for s in w["snp"]]
    X = np.where(G[:, col] == -127, w["a1_mean"].to_numpy(), G[:, col])
    zc = np.array([info["covariates"][c] for c in ("PC1", "PC2")])
    exported = info["intercept"] + Z @ zc + X @ w["weight"].to_numpy()
    change = np.abs(exported - model.predict(G, Z))
    assert change.max() == pytest.approx(info["pruning"]["max_abs_change_train"], rel=1e-9)
    assert 0 < change.max() < 0.05 * info["pruning"]["sd_genetic_value_train"]


def test_scoring_a_cohort_whose_fam_is_a_line_short_is_refused(tmp_path):
    # the cohort is read without QC: its fileset is checked all the same
    G, props, y, Z = cohort(tmp_path)
    fit(tmp_path, "sparselmm")
    reshuffled(tmp_path, G, props, "cohort")
    fam = (tmp_path / "cohort.fam").read_text().splitlines(keepends=True)
    (tmp_path / "cohort.fam").write_text("".join(fam[:1] + fam[2:]))
    with pytest.raises(ValueError, match="cohort.fam and .*cohort.bed"):
        score_cohort(tmp_path / "cohort", [("expr", "sparselmm", tmp_path / "sparselmm")],
                     min_fraction=0.5)


def gene_models(tmp_path, n_genes=12, seed=5):
    """A cohort with ``n_genes`` expression phenotypes, each driven by 2-3 SNPs of its
    own block of 30 (SNPs in LD within a block), and the final Lasso fit of each."""
    rng = np.random.default_rng(seed)
    p = 30 * n_genes
    # LD: each SNP copies its neighbour's haplotype with probability 0.6
    hap = rng.random((2 * N, p)) < rng.uniform(0.1, 0.5, p)
    for j in range(1, p):
        copy = (rng.random(2 * N) < 0.6) & (j % 30 != 0)
        hap[copy, j] = hap[copy, j - 1]
    G = (hap[:N].astype(np.int8) + hap[N:].astype(np.int8))
    G[rng.random((N, p)) < 0.01] = -127
    iids = [f"HG{i:05d}" for i in range(N)]
    snps = [f"rs{1000 + j}" for j in range(p)]
    plink.write_bed_props(tmp_path / "train", G, {
        "fid": iids, "iid": iids, "sid": snps, "chromosome": ["22"] * p,
        "bp_position": [16_000_000 + 100 * j for j in range(p)],
        "allele_1": ["A"] * p, "allele_2": ["G"] * p})
    X = np.where(G == -127, 0, G).astype(float)
    genes = [f"ENSG{k:011d}.1" for k in range(n_genes)]
    expr = {}
    for k, gene in enumerate(genes):
        causal = 30 * k + rng.choice(30, 3, replace=False)
        expr[gene] = X[:, causal] @ rng.normal(0, 1, 3) + rng.normal(size=N)
    pd.DataFrame({"iid": iids, **expr}).to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    pd.DataFrame({"iid": iids, "PC1": rng.normal(size=N)}).to_csv(tmp_path / "cov.tsv",
                                                                    sep="\t", index=False)
    models = []
    for gene in genes:
        final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv", phenotype=gene,
                  covariates=tmp_path / "cov.tsv", method="lasso", options={"n_alphas": 20},
                  transform="none", out=tmp_path / gene, log=io.StringIO())
        models.append((gene, tmp_path / gene))
    return G, models


def read_covariance(path):
    return pd.read_csv(path, sep=r"\s+", dtype={"GENE": str, "RSID1": str, "RSID2": str})


def test_predixcan_covariance_is_that_of_the_model_dosages(tmp_path):
    from sparselmm.export import write_predixcan_covariance

    G, models = gene_models(tmp_path, n_genes=4)
    log = io.StringIO()
    written = write_predixcan_covariance(
        tmp_path / "c.txt.gz", models, bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
        covariates=tmp_path / "cov.tsv", transform="none", max_snps=1000, log=log)
    cov = read_covariance(tmp_path / "c.txt.gz")  # gzipped, as MetaXcan reads it
    assert list(cov.columns) == ["GENE", "RSID1", "RSID2", "VALUE"]
    # genes contiguous, in the order given (that of the db's extra)
    order = cov["GENE"].drop_duplicates().tolist()
    assert order == [g for g, _ in models if g in written]
    assert (cov["GENE"] != cov["GENE"].shift()).sum() == len(order)
    bim = read_bim(tmp_path / "train").set_index("snp")
    for gene, prefix in models:
        w = pd.read_csv(f"{prefix}.weights.tsv", sep="\t")
        w = w[w["weight"] != 0]
        rows = cov[cov["GENE"] == gene]
        k = len(w)
        assert written[gene] == k and len(rows) == k * (k + 1) // 2  # each pair once
        col = bim.index.get_indexer(w["snp"])
        X = G[:, col].astype(float)
        X = np.where(G[:, col] == -127, w["a1_mean"].to_numpy(), X)  # the model's imputation
        expected = np.atleast_2d(np.cov(X, rowvar=False))
        got = np.full((k, k), np.nan)
        pos = {s: i for i, s in enumerate(w["snp"])}
        for a, b, v in zip(rows["RSID1"], rows["RSID2"], rows["VALUE"]):
            got[pos[a], pos[b]] = got[pos[b], pos[a]] = v
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # a cap on the model size leaves the larger models out, and says so
    small = min(written.values())
    capped = write_predixcan_covariance(
        tmp_path / "d.txt.gz", models, bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
        covariates=tmp_path / "cov.tsv", transform="none", max_snps=small, log=log)
    assert set(capped) == {g for g, n in written.items() if n <= small}
    assert "models.covariance_max_snps" in log.getvalue()


def test_s_predixcan_from_our_db_and_covariance_equals_the_individual_level_test(tmp_path):
    """S-PrediXcan's z-score (Barbeira et al. 2018: z_g = sum_j w_j sigma_j z_j /
    sqrt(w' S w)) from our db, our covariance and a GWAS of a trait equals the
    association of the trait with our predicted expression on the same samples."""
    from sparselmm.export import write_predixcan_covariance

    G, models = gene_models(tmp_path, n_genes=12)
    write_predixcan_db(tmp_path / "m.db", models)
    write_predixcan_covariance(
        tmp_path / "c.txt.gz", models, bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv",
        covariates=tmp_path / "cov.tsv", transform="none", max_snps=1000)
    con = sqlite3.connect(tmp_path / "m.db")
    weights = pd.read_sql("SELECT * FROM weights", con)
    con.close()
    cov = read_covariance(tmp_path / "c.txt.gz")
    bim = read_bim(tmp_path / "train")
    col = {s: j for j, s in enumerate(bim["snp"])}
    mean = np.array([G[G[:, j] != -127, j].mean() for j in range(G.shape[1])])
    X = np.where(G == -127, mean, G).astype(float)
    rng = np.random.default_rng(11)
    genes = [g for g, _ in models]

    def predicted(gene):
        w = weights[weights["gene"] == gene]
        return X[:, [col[s] for s in w["rsid"]]] @ w["weight"].to_numpy()

    trait = sum(rng.normal(0, 0.15) * predicted(g) for g in genes) + rng.normal(size=N)

    def z_of(x, y):  # the t statistic of a simple regression
        r = np.corrcoef(x, y)[0, 1]
        return r * np.sqrt((len(y) - 2) / (1 - r * r))

    gwas = {s: z_of(X[:, j], trait) for s, j in col.items()}
    individual, summary = [], []
    for gene in genes:
        w = weights[weights["gene"] == gene].set_index("rsid")["weight"]
        if w.empty:
            continue
        rows = cov[cov["GENE"] == gene]
        S = pd.DataFrame(0.0, index=w.index, columns=w.index)
        for a, b, v in zip(rows["RSID1"], rows["RSID2"], rows["VALUE"]):
            S.loc[a, b] = S.loc[b, a] = v
        sd = np.sqrt(np.diag(S))
        z = np.array([gwas[s] for s in w.index])
        summary.append(float(w.to_numpy() @ (sd * z)) / np.sqrt(w @ S.to_numpy() @ w))
        individual.append(z_of(predicted(gene), trait))
    assert len(summary) >= 10
    assert np.corrcoef(summary, individual)[0, 1] > 0.99
    np.testing.assert_allclose(summary, individual, atol=0.15 * np.abs(individual).max())


@pytest.mark.parametrize("windows", [False, True])
def test_a_group_of_final_fits_equals_the_fits_one_by_one(tmp_path, windows):
    from sparselmm.export import final_fit_group

    gene_models(tmp_path, n_genes=3)  # (the one-by-one fits of every SNP, then discarded)
    genes = [f"ENSG{k:011d}.1" for k in range(3)]
    pos = 16_000_000 + 100 * np.arange(90)
    # the windows: each gene's own block of 30 SNPs (1-based positions, inclusive)
    groups = pd.DataFrame({"phenotype": genes, "group": 1, "chrom": "22",
                           "window_start": pos[::30] if windows else -1,
                           "window_end": pos[29::30] if windows else -1})
    (tmp_path / "one").mkdir()
    for k, gene in enumerate(genes):
        cols = np.arange(30 * k, 30 * k + 30) if windows else None
        window = {"chrom": "22", "start": int(pos[30 * k]), "end": int(pos[30 * k + 29]),
                  "kb": 1} if windows else None
        final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv", phenotype=gene,
                  covariates=tmp_path / "cov.tsv", method="sparselmm", options={},
                  transform="none", out=tmp_path / "one" / gene, min_pip=0.01, cols=cols,
                  window=window, log=io.StringIO())
    manifest = final_fit_group(
        bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv", covariates=tmp_path / "cov.tsv",
        groups=groups, method="sparselmm", options={}, transform="none",
        prefix=str(tmp_path / "group" / "{phenotype}" / "{method}"), window_kb=1, min_pip=0.01,
        log=io.StringIO())
    assert manifest["phenotype"].tolist() == genes
    for gene in genes:
        for ext in (".weights.tsv", ".score", ".afreq", ".json"):
            assert (tmp_path / "group" / gene / f"sparselmm{ext}").read_bytes() == \
                (tmp_path / "one" / f"{gene}{ext}").read_bytes(), (gene, ext)
    n = [len(pd.read_csv(tmp_path / "group" / g / "sparselmm.weights.tsv", sep="\t"))
         for g in genes]
    assert manifest["n_snps_in_model"].tolist() == n


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs R (setup.sh installs it)")
def test_fusion_weights_load_in_r_with_the_right_dimnames(tmp_path):
    from sparselmm.export import write_fusion

    G, _ = gene_models(tmp_path, n_genes=3)
    genes = [f"ENSG{k:011d}.1" for k in range(3)]
    prefix = str(tmp_path / "m" / "{phenotype}" / "{method}")
    for gene in genes:
        for method in ("sparselmm", "lasso"):
            out = prefix.format(phenotype=gene, method=method)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            final_fit(bed=tmp_path / "train", phenotypes=tmp_path / "pheno.tsv", phenotype=gene,
                      covariates=tmp_path / "cov.tsv", method=method, options={},
                      transform="none", out=out, min_pip=0.01, log=io.StringIO(),
                      cv_metrics=[], cv_predictions=[])
    groups = pd.DataFrame({"phenotype": genes, "chrom": "22", "window_start": -1,
                           "window_end": -1})
    written = write_fusion(tmp_path / "fusion" / "panel.pos", genes, ["sparselmm", "lasso"],
                           prefix=prefix, bed=tmp_path / "train",
                           phenotypes=tmp_path / "pheno.tsv", covariates=tmp_path / "cov.tsv",
                           transform="none", groups=groups, log=io.StringIO())
    assert written == genes
    pos = pd.read_csv(tmp_path / "fusion" / "panel.pos", sep="\t")
    assert list(pos.columns) == ["PANEL", "WGT", "ID", "CHR", "P0", "P1", "N"]
    bim = read_bim(tmp_path / "train")
    for gene, wgt in zip(pos["ID"], pos["WGT"]):
        dump = subprocess.run(
            ["Rscript", "--vanilla", "-e",
             f'load("{tmp_path / "fusion" / wgt}"); '
             'write.table(wgt.matrix, sep="\\t", quote=FALSE, col.names=NA); '
             'cat("#snps\\n"); write.table(snps, sep="\\t", quote=FALSE, row.names=FALSE); '
             'cat("#perf\\n"); write.table(cv.performance, sep="\\t", quote=FALSE, '
             'col.names=NA); cat("#N", N.tot, "\\n")'],
            capture_output=True, text=True, check=True).stdout
        matrix, rest = dump.split("#snps\n")
        snps_part, rest = rest.split("#perf\n")
        perf_part, n_part = rest.split("#N")
        W = pd.read_csv(io.StringIO(matrix), sep="\t", index_col=0)
        snps = pd.read_csv(io.StringIO(snps_part), sep="\t", dtype=str)
        perf = pd.read_csv(io.StringIO(perf_part), sep="\t", index_col=0)
        assert list(W.columns) == ["sparselmm", "lasso"] and list(perf.index) == ["rsq", "pval"]
        assert list(W.index) == list(snps["V2"]) and int(n_part.split()[0]) == N
        rows = bim.set_index("snp").loc[snps["V2"]]
        assert (snps["V5"].to_numpy() == rows["a1"].to_numpy()).all()  # A1, the counted allele
        col = bim.index[bim["snp"].isin(snps["V2"])]
        X = G[:, bim.set_index("snp").index.get_indexer(snps["V2"])].astype(float)
        X[X == -127] = np.nan
        sd = np.nanstd(np.where(np.isnan(X), np.nanmean(X, axis=0), X), axis=0, ddof=1)
        for method in ("sparselmm", "lasso"):
            w = pd.read_csv(f"{prefix.format(phenotype=gene, method=method)}.weights.tsv",
                            sep="\t").set_index("snp")["weight"]
            expected = w.reindex(snps["V2"]).fillna(0.0).to_numpy() * sd  # standardised
            np.testing.assert_allclose(W[method].to_numpy(), expected, rtol=1e-12, atol=1e-15)
        assert len(col) == len(snps)
