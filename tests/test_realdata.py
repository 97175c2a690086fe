"""Real-data steps: QC counts, PCs against a dense SVD, phenotype checks."""

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparselmm import plink, realdata
from sparselmm.cv import group_fold_table
from sparselmm.tables import Samples, prepare_phenotypes


def make_fileset(tmp_path, n=60, p=200, seed=0):
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, p)
    # three populations with their own allele frequencies: PCs 1-2 are structure
    pop = np.arange(n) * 3 // n
    drift = rng.normal(scale=0.15, size=(3, p))
    G = rng.binomial(2, np.clip(maf + drift[pop], 0.01, 0.99)).astype(np.int8)
    G[:, 0] = 0  # monomorphic
    G[:, 1] = -127  # all missing
    G[:, 2] = np.where(np.arange(n) == 0, 1, 0)  # MAF 1/(2n)
    G[:, 3] = np.arange(n) % 3
    G[: n // 4, 3] = -127  # 25% missing
    G[5, 10] = -127  # one missing call kept
    iids = [f"s{i}" for i in range(n)]
    plink.write_bed(tmp_path / "geno", G, iids, [f"rs{j}" for j in range(p)])
    return G, iids


def test_genotype_qc_counts_and_output(tmp_path):
    G, iids = make_fileset(tmp_path)
    counts = realdata.genotype_qc(tmp_path / "geno", tmp_path / "qc", min_maf=0.05,
                                  max_missing=0.1)
    X = np.where(G == -127, np.nan, G.astype(float))
    observed = ~np.isnan(X)
    mono = np.array([np.unique(X[observed[:, j], j]).size == 1 for j in range(G.shape[1])])
    assert counts["all_missing"] == 1
    assert counts["monomorphic"] == mono.sum() >= 1
    assert counts["low_maf"] >= 1 and counts["high_missingness"] == 1
    kept = plink.read_genotypes(tmp_path / "qc")
    assert kept.shape == (60, counts["snps_kept"])
    assert counts["missing_calls_kept"] == 1 and (kept == -127).sum() == 1
    assert list(plink.read_samples(tmp_path / "qc")) == iids
    # plink2 keeps exactly the SNPs this reference keeps, genotypes and alleles unchanged
    freq = np.nansum(X, axis=0) / np.maximum(2 * observed.sum(axis=0), 1)
    maf = np.minimum(freq, 1 - freq)
    want = (observed.any(axis=0) & ~mono & (maf >= 0.05)
            & ((~observed).mean(axis=0) <= 0.1))
    np.testing.assert_array_equal(kept, G[:, want])
    bim, qc_bim = plink.read_bim(tmp_path / "geno"), plink.read_bim(tmp_path / "qc")
    assert qc_bim[["snp", "a1", "a2", "pos"]].equals(
        bim.loc[want, ["snp", "a1", "a2", "pos"]].reset_index(drop=True))


def test_genotype_qc_drops_a_snp_whose_calls_are_all_heterozygous(tmp_path):
    """Its alleles are both common (plink2's --maf and --mac keep it), but it has no
    variance: no fit can use it."""
    G, _ = make_fileset(tmp_path)
    G[:, 7] = 1
    plink.write_bed(tmp_path / "het", G, [f"s{i}" for i in range(60)],
                    [f"rs{j}" for j in range(200)])
    counts = realdata.genotype_qc(tmp_path / "het", tmp_path / "qc", min_maf=0.05,
                                  max_missing=0.1)
    assert "rs7" not in set(plink.read_bim(tmp_path / "qc")["snp"])
    before = realdata.genotype_qc(tmp_path / "geno", tmp_path / "qc0", min_maf=0.05,
                                  max_missing=0.1)
    assert counts["monomorphic"] == before["monomorphic"] + 1
    assert counts["snps_kept"] == before["snps_kept"] - 1


def test_pcs_match_dense_svd(tmp_path):
    G, _ = make_fileset(tmp_path)
    G = G[:, 4:]
    G = G[:, (G != G[0]).any(axis=0)]  # polymorphic columns only
    X = G.astype(float)
    X[G == -127] = np.nan
    X = np.where(np.isnan(X), np.nanmean(X, 0), X)
    X = (X - X.mean(0)) / X.std(0)
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    scores, sv = realdata.genotype_pcs(np.asfortranarray(G), 2, seed=0)
    # randomized SVD with 4 power iterations: measured 2e-5 relative here
    np.testing.assert_allclose(sv, s[:2], rtol=1e-4)
    for c in range(2):  # equal up to sign
        ref = U[:, c] * s[c]
        err = min(np.abs(scores[:, c] - ref).max(), np.abs(scores[:, c] + ref).max())
        assert err < 0.02 * np.abs(ref).max(), err
    # the two PCs separate the three simulated populations
    pop = np.arange(60) * 3 // 60
    centroids = np.array([scores[pop == k].mean(0) for k in range(3)])
    spread = max(scores[pop == k].std(0).max() for k in range(3))
    assert min(np.linalg.norm(centroids[a] - centroids[b]) for a, b in ((0, 1), (0, 2), (1, 2))) \
        > 3 * spread


def test_expression_bed_to_tsv(tmp_path):
    import gzip

    with gzip.open(tmp_path / "e.bed.gz", "wt") as fh:
        fh.write("#chr\tstart\tend\tgene\tlength\tstrand\tA\tB\n")
        fh.write("chr22\t1\t2\tG1\t10\t+\t0.5\t1.5\n")
        fh.write("chr22\t3\t4\tG2\t10\t-\t2\t3\n")
    assert realdata.expression_bed_to_tsv(tmp_path / "e.bed.gz", tmp_path / "e.tsv") == (2, 2)
    tab = pd.read_csv(tmp_path / "e.tsv", sep="\t", index_col="iid")
    assert tab.loc["B", "G1"] == 1.5 and list(tab.columns) == ["G1", "G2"]


def write_pheno(path, rows):
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


@pytest.mark.parametrize(
    "rows,requested,message",
    [
        ({"iid": ["a", "b", "c", "d"], "y": [1, 2, 3, 4]}, ["z"], "z listed in config.yaml"),
        ({"iid": ["a", "b", "c", "d"], "y": [1, "x", 3, 4]}, ["y"],
         "line 3: non-numeric phenotype value 'x' in column 'y' for sample 'b'"),
        ({"iid": ["a", "b", "c", "d"], "y": [2, 2, 2, 2]}, ["y"], "'y' is constant"),
        ({"iid": ["a", "b", "c", "d"], "y": [None] * 4}, ["y"], "missing for every"),
        ({"iid": ["q", "r", "s", "t"], "y": [1, 2, 3, 4]}, ["y"], "no sample ID in common"),
        ({"iid": ["a", "a", "c", "d"], "y": [1, 2, 3, 4]}, ["y"], "line 3: sample 'a' appears twice"),
        ({"iid": ["a", "b", "c", "d"], "y": [1, 2, 3, 4]}, ["y"], "too few"),
    ],
)
def test_prepare_phenotypes_rejects_bad_tables(tmp_path, rows, requested, message):
    write_pheno(tmp_path / "p.tsv", rows)
    samples = Samples(["a", "b", "c", "d"], ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=message) as err:
        prepare_phenotypes(tmp_path / "p.tsv", samples, requested, 3, tmp_path / "out.tsv")
    assert "p.tsv" in str(err.value)
    assert not (tmp_path / "out.tsv").exists()


def test_folds_drop_samples_missing_that_phenotype_only(tmp_path):
    iids = [f"s{i}" for i in range(20)]
    y1 = np.arange(20.0)
    y2 = np.where(np.arange(20) < 5, np.nan, 1.0 + np.arange(20))
    pd.DataFrame({"iid": iids, "y1": y1, "y2": y2}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                           index=False)
    pd.DataFrame({"iid": iids, "PC1": np.random.default_rng(0).normal(size=20)}).to_csv(tmp_path / "c.tsv", sep="\t",
                                                          index=False)
    table = tmp_path / "checked.tsv"
    assert prepare_phenotypes(tmp_path / "p.tsv", Samples(iids, iids), "all", 5, table) == [
        "y1", "y2"]
    counts = group_fold_table(table, ["y1", "y2"], iids, tmp_path / "c.tsv", 5, 1,
                              tmp_path / "f.tsv")
    assert counts == {"y1": 20, "y2": 15}
    folds = pd.read_csv(tmp_path / "f.tsv", sep="\t")
    assert sorted(folds["y2"].value_counts()) == [3] * 5
    assert folds["y2"].isna().sum() == 5 and folds["y1"].notna().all()


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda d: (d / "geno.bim").unlink(), r"missing .*geno\.bim"),
        (lambda d: (d / "geno.bed").write_bytes((d / "geno.bed").read_bytes()[:-5]),
         "truncated or the files do not match"),
        (lambda d: (d / "geno.fam").write_text((d / "geno.fam").read_text() + "x x2 0 0 0 -9\n"),
         "truncated or the files do not match"),
        (lambda d: (d / "geno.bed").write_bytes(b"abc" + (d / "geno.bed").read_bytes()[3:]),
         "not a SNP-major PLINK 1 .bed"),
        (lambda d: (d / "geno.fam").write_text((d / "geno.fam").read_text().replace("s1 s1", "s0 s0")),
         "duplicate sample \\(FID IID\\) 's0 s0'"),
        (lambda d: (d / "geno.bim").write_text((d / "geno.bim").read_text().replace("rs7\t", "rs6\t")),
         "duplicate SNP ID 'rs6' \\(line 8\\)"),
        (lambda d: (d / "geno.bim").write_text("1 rs0 0 1 A\n"), r"geno\.bim, line 1: expected 6"),
    ],
)
def test_broken_plink_filesets_are_named(tmp_path, damage, message):
    make_fileset(tmp_path)
    damage(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        realdata.genotype_qc(tmp_path / "geno", tmp_path / "qc", min_maf=0.01, max_missing=0.1)


def test_rank_inverse_normal():
    from scipy.stats import norm

    from sparselmm.samples import rank_inverse_normal

    y = np.array([3.0, 100.0, -1.0, 3.0, 0.5])
    z = rank_inverse_normal(y)
    ranks = np.array([3.5, 5, 1, 3.5, 2])  # average ranks for the tie
    np.testing.assert_allclose(z, norm.ppf((ranks - 0.375) / 5.25))
    assert z[1] == z.max() and z[0] == z[3]  # order kept, ties equal, outlier tamed


def test_fit_log_says_how_the_model_ended(tmp_path, capsys):
    """The fit's log line (stderr) carries convergence, pve and, for the hybrid,
    the start kept and the evidence of each start."""
    from sparselmm.cv import write_folds
    from sparselmm.fitting import fit_fold

    G, iids = make_fileset(tmp_path)
    y = G[:, 20:30].astype(float) @ np.ones(10) + np.random.default_rng(0).normal(size=60)
    pd.DataFrame({"iid": iids, "y": y}).to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    write_folds(tmp_path / "f.tsv", iids, 3, 0, ["y"])
    kw = dict(bed=tmp_path / "geno", phenotypes=tmp_path / "p.tsv", names=["y"],
              folds=tmp_path / "f.tsv", fold=0)
    fit_fold(**kw, method="sparselmm", options={"max_iter": 1})
    line = capsys.readouterr().err.splitlines()[-1].removeprefix("y: ")
    assert line.startswith("sparselmm fit: converged=False n_iter=1 pve=") and " pi=" in line
    fit_fold(**kw, method="hybrid", options={"start_margin": 0.0})
    line = capsys.readouterr().err.splitlines()[-1].removeprefix("y: ")
    assert line.startswith("hybrid fit: converged=") and "inference=vamp" in line
    # p <= 1000: the two starts coincide and one runs
    assert re.search(r"start=sparse start_evidence=\{sparse: \(-?[0-9.]+, (True|False)\)\}",
                     line)


def test_non_converged_fit_is_flagged_not_hidden(tmp_path):
    from sparselmm.cv import write_folds
    from sparselmm.fitting import fit_fold

    G, iids = make_fileset(tmp_path)
    y = G[:, 20:30].astype(float) @ np.ones(10) + np.random.default_rng(0).normal(size=60)
    pd.DataFrame({"iid": iids, "y": y}).to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    write_folds(tmp_path / "f.tsv", iids, 3, 0, ["y"])
    kw = dict(bed=tmp_path / "geno", phenotypes=tmp_path / "p.tsv", names=["y"],
              folds=tmp_path / "f.tsv", fold=0, method="sparselmm")
    preds, m, _, _ = fit_fold(**kw, options={"max_iter": 1})
    assert not m["converged"].iloc[0] and np.isfinite(preds["pred"]).all()
    _, m, _, _ = fit_fold(**kw)
    assert m["converged"].iloc[0]


def test_non_numeric_covariate_is_named(tmp_path):
    from sparselmm.tables import user_covariates

    pd.DataFrame({"iid": ["a", "b"], "age": [31, "unknown"]}).to_csv(tmp_path / "c.tsv", sep="\t",
                                                                     index=False)
    with pytest.raises(ValueError, match="c.tsv, line 3: non-numeric covariate value 'unknown' "
                                         "in column 'age' for sample 'b'"):
        user_covariates(tmp_path / "c.tsv", Samples(["a", "b"], ["a", "b"]))


def test_fam_one_line_short_is_caught_by_the_padding_bits(tmp_path):
    """358 -> 357 .fam lines keep the .bed size (90 bytes per SNP): only the padding
    bits of each SNP's last byte tell, and QC reads them all."""
    G, iids = make_fileset(tmp_path, n=58)  # 15 bytes per SNP, 2 padding codes
    plink.check_fileset(tmp_path / "geno", all_snps=True)  # the intact fileset passes
    fam = (tmp_path / "geno.fam").read_text().splitlines(keepends=True)
    (tmp_path / "geno.fam").write_text("".join(fam[:20] + fam[21:]))
    with pytest.raises(ValueError, match=r"geno.fam and .*geno.bed: the .fam lists 57 samples, "
                                         r"but in \d+ of 200 SNPs checked"):
        realdata.genotype_qc(tmp_path / "geno", tmp_path / "qc", min_maf=0.01, max_missing=0.1)
    with pytest.raises(ValueError, match="most likely a line is missing"):
        plink.check_fileset(tmp_path / "geno")  # the default sample of SNPs sees it too


def test_individual_major_bed_says_how_to_convert(tmp_path):
    make_fileset(tmp_path)
    data = bytearray((tmp_path / "geno.bed").read_bytes())
    data[2] = 0
    (tmp_path / "geno.bed").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="individual-major PLINK .bed; convert it .*plink2 "
                                         "--bfile .*geno --make-bed"):
        plink.check_fileset(tmp_path / "geno")


def test_pcs_use_the_autosomes_and_say_what_was_left_out(tmp_path):
    rng = np.random.default_rng(4)
    n, p = 60, 120
    G = rng.binomial(2, 0.3, size=(n, p)).astype(np.int8)
    chroms = ["1"] * 50 + ["chr2"] * 50 + ["X"] * 15 + ["0"] * 5
    iids = [f"s{i}" for i in range(n)]
    plink.write_bed_props(tmp_path / "geno", G, {
        "fid": iids, "iid": iids, "sid": [f"rs{j}" for j in range(p)], "chromosome": chroms,
        "bp_position": list(range(1, p + 1))})
    snps, note = realdata.pc_snps(chroms)
    assert list(snps) == list(range(100)) and note == "15 on chromosome X, 5 on chromosome 0"
    assert realdata.pc_snps(chroms, "all")[0].size == p
    assert list(realdata.pc_snps(chroms, ["X"])[0]) == list(range(100, 115))
    log = io.StringIO()
    tab = realdata.write_covariates(tmp_path / "geno", tmp_path / "c.tsv", n_pcs=2, log=log)
    assert "PCs from 100 SNPs of autosomes; left out: 15 on chromosome X, 5 on chromosome 0" \
        in log.getvalue()
    expected, _ = realdata.genotype_pcs(G[:, :100], 2)
    np.testing.assert_allclose(tab[["PC1", "PC2"]].to_numpy(), expected, atol=1e-10)
    with pytest.raises(ValueError, match="no SNP on the chromosomes the PCs use.*pc_chromosomes"):
        realdata.write_covariates(tmp_path / "geno", tmp_path / "c.tsv", n_pcs=2,
                                  chromosomes=["5"])


def test_too_few_samples_for_the_covariates_says_so(tmp_path):
    iids = [f"s{i}" for i in range(12)]
    rng = np.random.default_rng(0)
    pd.DataFrame({"iid": iids, "y": rng.normal(size=12)}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                                  index=False)
    cov = pd.DataFrame(rng.normal(size=(12, 8)), columns=[f"PC{k + 1}" for k in range(8)])
    cov.insert(0, "iid", iids)
    cov.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"phenotype 'y': 12 samples with genotypes and "
                                         r"covariates, so 8 in the smallest training fold, too "
                                         r"few for the intercept and 8 covariates .*at least 10"):
        group_fold_table(tmp_path / "p.tsv", ["y"], iids, tmp_path / "c.tsv", 3, 1,
                         tmp_path / "f.tsv")
    assert not (tmp_path / "f.tsv").exists()


def test_outputs_appear_whole_or_not_at_all(tmp_path):
    from sparselmm.outputs import atomic, write_tsv

    target = tmp_path / "t.tsv.gz"
    with pytest.raises(RuntimeError), atomic(target) as tmp:
        assert tmp.endswith(".t.tsv.gz") and Path(tmp).parent == tmp_path
        Path(tmp).write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []  # neither the target nor the partial file
    write_tsv(pd.DataFrame({"a": [1, 2]}), target)  # compression follows the name
    assert pd.read_csv(target, sep="\t")["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv.gz"]
