"""Cis windows: position tables as QTLtools/tensorQTL and users write them, window
membership, groups, and grouped fits equal to per-phenotype fits."""

import gzip

import numpy as np
import pandas as pd
import pytest

from sparselmm import plink
from sparselmm.cis import (PositionError, assign_groups, group_columns, normalise_chrom,
                           read_positions)
from sparselmm.cv import group_fold_table
from sparselmm.fitting import fit_fold

BIM = pd.DataFrame({"chrom": ["22", "22", "22", "22", "21", "22"],
                    "snp": [f"rs{j}" for j in range(6)], "cm": "0",
                    "pos": ["1000", "5000", "9000", "20000", "5000", "30000"],
                    "a1": "A", "a2": "G"})


def test_chromosome_names_are_compared_without_prefix():
    assert normalise_chrom("chr22") == normalise_chrom("22") == "22"
    assert normalise_chrom("chrX") == normalise_chrom("X") == normalise_chrom("23") == "23"
    assert normalise_chrom("MT") == "26" and normalise_chrom("05") == "5"


def test_qtltools_bed_is_read_zero_based(tmp_path):
    path = tmp_path / "genes.bed.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("#chr\tstart\tend\tgene\tlength\tstrand\tS1\tS2\n"
                 "chr22\t4999\t5000\tgA\t10\t+\t0.1\t0.2\n"
                 "chr22\t29999\t30000\tgB\t10\t-\t0.3\t0.4\n")
    pos = read_positions(path)
    assert pos.loc["gA"].tolist() == ["22", 5000, 5000]
    assert pos.loc["gB", "start"] == 30000


def test_position_table_with_named_columns(tmp_path):
    path = tmp_path / "pos.csv"
    path.write_text("gene_id,chromosome,position\ngA,chr22,5000\ngB,21,5000\n")
    pos = read_positions(path)
    assert pos.loc["gB"].tolist() == ["21", 5000, 5000]


@pytest.mark.parametrize("text,message", [
    ("gene,chr,position\ngA,22,five\n", "line 2: start 'five' is not a base-pair position"),
    ("gene,where\ngA,22\n", "no chromosome column in line 1"),
    ("gene,chr,pos\ngA,22,5\ngA,22,7\n", "line 3: phenotype 'gA' listed twice"),
    ("#chr\tstart\n22\t5\n", "a phenotype BED needs the columns chr, start, end"),
])
def test_bad_position_tables_name_the_line(tmp_path, text, message):
    path = tmp_path / "pos.txt"
    path.write_text(text)
    with pytest.raises(PositionError, match=message):
        read_positions(path)


def test_windows_groups_and_skipped_phenotypes():
    positions = pd.DataFrame({"chrom": ["22", "22", "21", "22"], "start": [5000, 30000, 5000, 90000],
                              "end": [5000, 30000, 5000, 90000]},
                             index=["gA", "gB", "gC", "gFar"])
    names = ["gB", "gA", "gFar", "gC", "gNone"]
    groups, skipped = assign_groups(names, 2, positions, BIM, window_kb=4.5)
    # sorted by position: chromosome 21 before 22; gA sees rs0-rs2, not rs4 (chr 21)
    assert groups["phenotype"].tolist() == ["gC", "gA", "gB"]
    assert groups["group"].tolist() == [1, 1, 2]
    assert groups.set_index("phenotype")["n_snps"].to_dict() == {"gC": 1, "gA": 3, "gB": 1}
    assert dict(zip(skipped["phenotype"], skipped["reason"])) == {
        "gFar": "no SNP within 4.5 kb (chromosome 22:85500-94500)",
        "gNone": "no position in the position table"}
    cols = group_columns(groups, lambda: BIM)
    assert cols["gA"].tolist() == [0, 1, 2] and cols["gC"].tolist() == [4]
    everything, none_skipped = assign_groups(names, 3, bim=BIM)
    assert everything["group"].tolist() == [1, 1, 1, 2, 2] and none_skipped.empty
    assert all(c is None for c in group_columns(everything, lambda: BIM).values())


@pytest.fixture(scope="module")
def fileset(tmp_path_factory):
    """60 samples x 300 SNPs on two chromosomes, three phenotypes (one with missing values)."""
    wd = tmp_path_factory.mktemp("grouped")
    rng = np.random.default_rng(8)
    n, p = 60, 300
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    G[::9, 4] = -127
    iids = [f"i{k}" for k in range(n)]
    plink.write_bed(wd / "geno", G, iids, [f"s{j}" for j in range(p)])
    y = {f"ph{k}": G[:, 10 * k].astype(float) + rng.normal(size=n) for k in range(3)}
    y["ph2"][:7] = np.nan
    pd.DataFrame({"iid": iids, **y}).to_csv(wd / "pheno.tsv", sep="\t", index=False,
                                            na_rep="NA")
    pd.DataFrame({"iid": iids, "c": rng.normal(size=n)}).to_csv(wd / "cov.tsv", sep="\t",
                                                               index=False)
    group_fold_table(wd / "pheno.tsv", list(y), iids, wd / "cov.tsv", 3, 1, wd / "folds.tsv")
    return wd, list(y)


@pytest.mark.parametrize("method", ["sparselmm", "ridge", "lasso"])
def test_grouped_fit_equals_one_job_per_phenotype(fileset, method, tmp_path):
    wd, names = fileset
    windows = {"ph0": None, "ph1": np.arange(0, 150), "ph2": None}
    preds, metrics, timings, _ = fit_fold(
        bed=wd / "geno", phenotypes=wd / "pheno.tsv", names=names, folds=wd / "folds.tsv",
        fold=1, method=method, covariates=wd / "cov.tsv", transform="rank_inverse_normal",
        windows=windows)
    assert metrics["phenotype"].tolist() == names and len(timings) == 3
    for name in names:
        prefix = wd / "geno"
        if windows[name] is not None:  # the window as its own fileset
            prefix = tmp_path / name
            G = plink.read_genotypes(wd / "geno", cols=windows[name])
            plink.write_bed(prefix, G, [f"i{k}" for k in range(60)],
                            [f"s{j}" for j in windows[name]])
        group_fold_table(wd / "pheno.tsv", [name], [f"i{k}" for k in range(60)],
                         wd / "cov.tsv", 3, 1, tmp_path / f"{name}.folds.tsv")
        p, m, _, _ = fit_fold(bed=prefix, phenotypes=wd / "pheno.tsv", names=[name],
                           folds=tmp_path / f"{name}.folds.tsv", fold=1, method=method,
                           covariates=wd / "cov.tsv", transform="rank_inverse_normal")
        row = metrics.set_index("phenotype").loc[name]
        m = m.iloc[0]
        assert row["p"] == m["p"] and row["n_test"] == m["n_test"]
        np.testing.assert_allclose([row["r2"], row["r2_snp"]], [m["r2"], m["r2_snp"]],
                                   rtol=1e-9, atol=1e-12)
        got = preds[preds["phenotype"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, p.reset_index(drop=True), rtol=1e-9, atol=1e-12)
    assert metrics.set_index("phenotype").loc["ph2", "n_test"] < 20  # 7 missing left out


def test_gene_names_and_types_come_from_the_position_table(tmp_path):
    from sparselmm.cis import read_gene_names

    (tmp_path / "genes.tsv").write_text(
        "gene_id\tchromosome\tposition\tgene_name\tgene_type\n"
        "ENSG1.1\t22\t100\tAPOL1\tprotein_coding\nENSG2.1\t22\t200\t\tlincRNA\n")
    names = read_gene_names(tmp_path / "genes.tsv")
    assert names.to_dict("index") == {"ENSG1.1": {"genename": "APOL1",
                                                  "gene_type": "protein_coding"},
                                      "ENSG2.1": {"genename": "", "gene_type": "lincRNA"}}
    # a QTLtools BED (the GEUVADIS one): IDs only
    (tmp_path / "genes.bed").write_text("#chr\tstart\tend\tgene\tlength\tstrand\n"
                                        "22\t99\t100\tENSG1.1\t5\t+\n")
    assert list(read_gene_names(tmp_path / "genes.bed").columns) == []
