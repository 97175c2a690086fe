"""Tables of the workflow: summaries computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from sparselmm.summary import PANEL, FitFileError, collect_metrics, summarise


def sim_table():
    # one scenario, 2 replicates x 2 folds, two methods
    rows = []
    values = {"sparselmm": [0.10, 0.20, 0.30, 0.40], "hybrid": [0.12, 0.22, 0.30, 0.44]}
    for method, vals in values.items():
        for k, v in enumerate(vals):
            rows.append(dict(n_causal=100, h2=0.5, replicate=k // 2 + 1, fold=k % 2,
                             method=method, r2_snp=v))
    return pd.DataFrame(rows)


def test_summary_uses_replicates_as_units():
    s = summarise(sim_table()).set_index("method")
    # replicate means: sparselmm 0.15, 0.35; hybrid 0.17, 0.37
    assert s.loc["hybrid", "mean"] == pytest.approx(0.27)
    assert s.loc["hybrid", "se"] == pytest.approx(np.std([0.17, 0.37], ddof=1) / math.sqrt(2))
    assert s.loc["hybrid", "diff"] == pytest.approx(0.02)
    assert s.loc["hybrid", "se_diff"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc["sparselmm", "diff"] == 0 and s.loc["hybrid", "units"] == "2 replicates"
    assert list(s.index) == ["sparselmm", "hybrid"]  # the plotting order


def test_summary_with_one_replicate_uses_folds():
    t = sim_table()
    t = t[t.replicate == 2]
    s = summarise(t).set_index("method")
    assert s.loc["hybrid", "units"] == "2 folds"
    assert s.loc["hybrid", "diff"] == pytest.approx(0.02)
    assert s.loc["hybrid", "se_diff"] == pytest.approx(0.02)  # diffs 0.00, 0.04


def test_real_summary_adds_the_panel():
    rows = [dict(phenotype=ph, fold=f, method=m, r2_snp=v)
            for ph, base in (("g1", 0.5), ("NA", 0.0))
            for f in range(3) for m, v in (("sparselmm", base), ("lasso", base + 0.01 * f))]
    s = summarise(pd.DataFrame(rows))
    panel = s[s.phenotype == PANEL].set_index("method")
    assert panel.loc["lasso", "units"] == "2 phenotypes"
    assert panel.loc["lasso", "mean"] == pytest.approx(0.26)
    assert panel.loc["lasso", "diff"] == pytest.approx(0.01)
    assert set(s.phenotype) == {"g1", "NA", PANEL}


def test_summary_without_the_baseline_leaves_differences_empty():
    t = sim_table()
    s = summarise(t[t.method == "hybrid"])
    assert s["diff"].isna().all() and len(s) == 1


def test_timings_take_memory_from_the_fit_and_time_from_snakemake(tmp_path):
    from sparselmm.summary import collect_timings

    labels = "n_causal\th2\treplicate\tfold\tmethod"
    (tmp_path / "new.tsv").write_text(f"{labels}\tfit_seconds\tmax_rss_mb\n"
                                      "10\t0.5\t1\t0\thybrid\t2.5\t260.5\n")
    # a timing file written before the fit recorded its own peak memory
    (tmp_path / "old.tsv").write_text(f"{labels}\tfit_seconds\n10\t0.5\t1\t0\toracle\t0\n")
    bench = "s\th:m:s\tmax_rss\tmax_vms\n{s}\t0:00:03\t{rss}\t900\n"
    (tmp_path / "b_new.tsv").write_text(bench.format(s=3.7, rss=4.5))  # a missed sample
    (tmp_path / "b_old.tsv").write_text(bench.format(s=0.9, rss=149.2))
    table = collect_timings([tmp_path / "new.tsv", tmp_path / "old.tsv"],
                            [tmp_path / "b_new.tsv", tmp_path / "b_old.tsv"])
    got = table.set_index("method")
    assert got.loc["hybrid", "max_rss_mb"] == 260.5 and got.loc["hybrid", "job_seconds"] == 3.7
    assert got.loc["oracle", "max_rss_mb"] == 149.2 and got.loc["oracle", "job_seconds"] == 0.9
    (tmp_path / "b_bad.tsv").write_text("seconds\n1\n")
    with pytest.raises(ValueError, match="b_bad.tsv: not a Snakemake benchmark file"):
        collect_timings([tmp_path / "new.tsv"], [tmp_path / "b_bad.tsv"])


def transcriptome_table(n_genes=40):
    """Per-gene fold R^2: sparselmm g/100, lasso g/100 + 0.01 on even genes, - 0.01 on odd."""
    rows = []
    for g in range(n_genes):
        for f in range(2):
            rows.append(dict(phenotype=f"g{g}", fold=f, method="sparselmm", r2_snp=g / 100,
                             n_train=80, n_test=20, p=100 + g))
            rows.append(dict(phenotype=f"g{g}", fold=f, method="lasso",
                             r2_snp=g / 100 + (0.01 if g % 2 == 0 else -0.01),
                             n_train=80, n_test=20, p=100 + g))
    table = pd.DataFrame(rows)
    table["r2"] = table["r2_snp"] + 0.3
    return table


def test_predicted_counts_by_hand():
    from sparselmm.summary import predicted_counts

    c = predicted_counts(transcriptome_table()).set_index("method")
    # sparselmm: genes 6..39 above 0.05 (34 genes), 11..39 above 0.1 (29)
    assert c.loc["sparselmm", "n_above_0.05"] == 34 and c.loc["sparselmm", "n_above_0.1"] == 29
    assert c.loc["sparselmm", "mean_above_0.1"] == pytest.approx(np.mean(np.arange(11, 40)) / 100)
    # lasso: even genes +0.01 (4, 6, ... above 0.05), odd -0.01 (7, 9, ...)
    lasso = [g / 100 + (0.01 if g % 2 == 0 else -0.01) for g in range(40)]
    assert c.loc["lasso", "n_above_0.05"] == sum(v > 0.05 for v in lasso)
    assert c.loc["lasso", "best"] == 20 and c.loc["sparselmm", "best"] == 20
    assert c.loc["lasso", "better_than_baseline"] == 20
    assert c.loc["lasso", "worse_than_baseline"] == 20
    assert c.loc["lasso", "diff"] == pytest.approx(0.0, abs=1e-12)
    assert c.loc["lasso", "se_diff"] == pytest.approx(0.01 / math.sqrt(40) * math.sqrt(40 / 39))
    assert list(c.index) == ["sparselmm", "lasso"]


def test_fig2_switches_to_scatter_plots_for_many_phenotypes():
    from sparselmm.plots import MAX_BARS, fig2_real

    many = fig2_real(transcriptome_table(MAX_BARS + 1), ["sparselmm", "lasso"])
    titles = [ax.get_title() for ax in many.axes if ax.get_visible()]
    assert "Lasso: better on 16, worse on 15" in titles
    assert "SNPs per phenotype" in many._suptitle.get_text()
    few = fig2_real(transcriptome_table(5), ["sparselmm", "lasso"])
    assert len(few.axes) == 2  # the bar charts (full prediction, SNP part)


def test_hybrid_status_counts_how_vamp_ended():
    from sparselmm.summary import hybrid_status

    rows = [dict(n_causal=10, h2=0.5, method="hybrid", fold=f, converged=c, inference=i,
                 damping=d)
            for f, (c, i, d) in enumerate([(True, "vamp", 0.8), (True, "vamp", 0.2),
                                           (True, "vamp", 0.4), (False, "mean_field", np.nan)])]
    rows.append(dict(n_causal=10, h2=0.5, method="lasso", fold=0, converged=True))
    s = hybrid_status(pd.DataFrame(rows), damping=0.8).iloc[0]
    assert (s.fits, s.converged, s.vamp_configured_damping, s.vamp_more_damping,
            s.mean_field_fallback) == (4, 3, 1, 2, 1)
    assert s.min_damping == 0.2
    assert hybrid_status(pd.DataFrame(rows[-1:])).empty


def write_group_fits(tmp_path, phenotypes=("a", "b"), folds=3, methods=("sparselmm", "lasso")):
    """Metric files as fit_group.py writes them: one per method x fold, a row per
    phenotype of the group."""
    paths = []
    for method in methods:
        for fold in range(folds):
            rows = [{"phenotype": name, "method": method, "fold": fold, "r2": 0.1 * fold,
                     "r2_snp": 0.05, "n_train": 60, "n_test": 30} for name in phenotypes]
            path = tmp_path / f"{method}.fold{fold}.metrics.tsv"
            pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
            paths.append(path)
    return paths


GROUPS = {"a": 1, "b": 1}


def test_complete_fit_files_are_collected(tmp_path):
    table = collect_metrics(write_group_fits(tmp_path), folds=3, groups=GROUPS)
    assert len(table) == 12 and list(table["phenotype"].unique()) == ["a", "b"]


def cut(path, keep_chars):
    text = path.read_text()
    path.write_text(text[:keep_chars])


@pytest.mark.parametrize("damage, message", [
    # a kill or a full disk mid-write: the last line ends early
    (lambda p: cut(p, len(p.read_text()) - 12), r"lasso.fold1.metrics.tsv, line 3: \d fields "
                                                r"for 7 columns"),
    # the last row lost whole: the group's phenotype b has no result
    (lambda p: cut(p, p.read_text().rindex("b\t")), r"lasso.fold1.metrics.tsv: 1 rows for the "
                                                     r"2 phenotypes of group 1; it lacks b"),
    # only the header written
    (lambda p: cut(p, p.read_text().index("\n") + 1), "lasso.fold1.metrics.tsv: no fit results"),
    # an empty cell where a metric should be
    (lambda p: p.write_text(p.read_text().replace("\t0.05\t", "\t\t", 1)),
     r"lasso.fold1.metrics.tsv, line 2: no value of 'r2_snp'"),
])
def test_a_damaged_fit_file_is_named(tmp_path, damage, message):
    paths = write_group_fits(tmp_path)
    damage(paths[4])
    with pytest.raises(FitFileError, match=message):
        collect_metrics(paths, folds=3, groups=GROUPS)


def test_a_fold_absent_or_repeated_is_named(tmp_path):
    paths = write_group_fits(tmp_path)
    with pytest.raises(FitFileError, match=r"phenotype=a, method=lasso: folds \[0, 1\], not 0..2"):
        collect_metrics([p for p in paths if p.name != "lasso.fold2.metrics.tsv"], folds=3)
    twice = paths[:5] + [paths[4]]  # lasso fold 1 given for fold 2
    with pytest.raises(FitFileError, match="folds \\[0, 1, 1\\].*in .*lasso.fold1.metrics.tsv"):
        collect_metrics(twice, folds=3)


def test_a_file_of_another_run_is_named(tmp_path):
    paths = write_group_fits(tmp_path, phenotypes=("a", "c"))
    with pytest.raises(FitFileError, match="phenotype 'c' is in no group of this run"):
        collect_metrics(paths, folds=3, groups=GROUPS)
