"""End-to-end runs of the Snakemake workflow on tiny configs."""

import json
import os
import shutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparselmm.tables import read_results

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workdir(tmp_path, config_text):
    """A copy of the workflow's top level with ``config_text`` as config.yaml."""
    for name in ("Snakefile", "workflow", "profiles"):
        src = ROOT / name
        (tmp_path / name).symlink_to(src, target_is_directory=src.is_dir())
    (tmp_path / "config.yaml").write_text(config_text)
    return tmp_path


def run(wd, *args, check=True):
    proc = subprocess.run([*SNAKEMAKE, "--cores", "2", *args], cwd=wd, capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


TINY = """
methods: [sparselmm, lasso, oracle]
simulation:
  n_individuals: 120
  n_snps: 300
  n_causal: [1, 10]
  h2: [0.8]
  seed: 7
cv:
  folds: 3
lasso:
  n_alphas: 10
  cv: 3
realdata:
  enabled: false
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = workdir(tmp_path_factory.mktemp("fig1"), TINY)
    run(wd)
    return wd


def test_fig1_end_to_end(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/simulation_r2.tsv", sep="\t")
    assert len(table) == 2 * 1 * 3 * 3  # scenarios x replicates x methods x folds
    for col in ("n_causal", "h2", "replicate", "fold", "method", "r2", "r2_snp", "converged",
                "at_bound"):
        assert col in table.columns
    assert set(table["method"]) == {"sparselmm", "lasso", "oracle"}
    assert table["r2"].notna().all() and table["converged"].all()
    mean = table.groupby(["n_causal", "method"])["r2_snp"].mean()
    # the oracle is the ceiling; with one strong SNP and h2 = 0.8 the sparse
    # model gets close to it
    assert mean[(1, "oracle")] > 0.6
    assert mean[(1, "sparselmm")] > mean[(1, "oracle")] - 0.15
    summary = pd.read_csv(tiny_run / "results/tables/simulation_summary.tsv", sep="\t")
    assert len(summary) == 2 * 3 and (summary["units"] == "3 folds").all()
    oracle = summary[(summary.method == "oracle") & (summary.n_causal == 1)].iloc[0]
    assert oracle["mean"] == pytest.approx(mean[(1, "oracle")], abs=1e-4)
    for ext in ("png", "pdf"):
        fig = tiny_run / f"results/figures/fig1_simulation.{ext}"
        assert fig.stat().st_size > 10_000
    # the genotypes went through PLINK files
    assert (tiny_run / "results/simulation/data/c10_h0.8/rep1/genotypes.bed").exists()


def test_auto_chooses_within_each_training_fold_and_says_what_it_chose(tmp_path):
    config = TINY.replace("methods: [sparselmm, lasso, oracle]",
                          "methods: [sparselmm, top1, auto, oracle]") + (
        "auto:\n  candidates: [sparselmm, top1]\n  cv: 3\n")
    wd = workdir(tmp_path, config)
    run(wd)
    table = read_results(wd / "results/tables/simulation_r2.tsv")
    auto = table[table["method"] == "auto"]
    assert len(auto) == 6 and set(auto["chosen"]) <= {"sparselmm", "top1"}
    choices = pd.read_csv(wd / "results/tables/simulation_auto.tsv", sep="\t")
    assert list(choices.columns) == ["n_causal", "h2", "chosen", "folds", "share"]
    overall = choices[choices["n_causal"] == "(all)"]
    assert overall["folds"].sum() == 6 and overall["share"].sum() == pytest.approx(1.0)
    # the fit logs say what was chosen and the inner errors
    log = (wd / "results/logs/fit/c1_h0.8/rep1/auto/fold0.log").read_text()
    assert "chosen=" in log and "cv_mse=" in log
    # both candidates are fitted beside auto: the chosen one's fit is auto's, not refitted
    chosen = auto.query("n_causal == 1 and h2 == 0.8 and fold == 0")["chosen"].iloc[0]
    assert f"(the fit of {chosen} reused: " in log
    mine = table[(table["method"] == chosen) & (table["n_causal"] == 1)
                 & (table["h2"] == 0.8) & (table["fold"] == 0)]
    assert mine["r2"].iloc[0] == auto.query("n_causal == 1 and h2 == 0.8 and fold == 0")[
        "r2"].iloc[0]


def test_second_run_has_nothing_to_do(tiny_run):
    proc = run(tiny_run, "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_timings_table(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/timings.tsv", sep="\t")
    assert len(table) == 2 * 1 * 3 * 3
    assert list(table.columns[:5]) == ["n_causal", "h2", "replicate", "fold", "method"]
    assert (table["fit_seconds"] >= 0).all()
    assert (table.loc[table.method != "oracle", "fit_seconds"] > 0).all()
    # the job includes the fit, plus start-up and reading the genotypes
    assert (table["job_seconds"] >= table["fit_seconds"]).all()
    # the fit process's own peak (getrusage), not Snakemake's sampling, which
    # missed sub-second oracle jobs (2-6 MB seen): Python with numpy and pandas
    # loaded is always well above 30 MB, the genotypes are read by every method
    assert (table["max_rss_mb"] > 30).all()
    assert (table["max_rss_mb"] < 4096).all()


def test_lint_is_clean():
    proc = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def plan_with_config(tmp_path, name, *targets):
    """The dry run's output for ``configs/{name}.yaml`` merged over config.yaml."""
    wd = workdir(tmp_path, (ROOT / "config.yaml").read_text())
    (wd / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    # (--configfile takes several files: the targets go first)
    proc = run(wd, *targets, "--dry-run", "--configfile", f"configs/{name}.yaml")
    return proc.stdout + proc.stderr


def test_beyond_the_paper_config_is_valid(tmp_path):
    """The documented extra config merges over config.yaml and plans every method."""
    out = plan_with_config(tmp_path, "beyond_the_paper", "results/tables/simulation_r2.tsv")
    # 9 scenarios x 3 replicates x 5 folds x 6 methods
    assert re.search(r"fit_simulation\s+810\b", out), out[-2000:]


def test_transcriptome_config_is_valid(tmp_path):
    """The transcriptome config plans no simulation and keeps its outputs apart."""
    out = plan_with_config(tmp_path, "geuvadis_transcriptome")
    assert "fit_simulation" not in out and "simulate " not in out
    assert "results/transcriptome/realdata/groups.tsv" in out
    assert "results/transcriptome/tables/real_predicted.tsv" in out


@pytest.mark.parametrize("name", ["auto_fig1", "auto_fig1_ld"])
def test_auto_config_is_valid(tmp_path, name):
    """configs/auto_fig1*.yaml plan auto beside its candidates and the choices table."""
    out = plan_with_config(tmp_path, name)
    # 9 scenarios x 5 folds x 4 methods
    assert re.search(r"fit_simulation\s+180\b", out), out[-2000:]
    assert f"results/{name}/tables/simulation_auto.tsv" in out


def test_auto_transcriptome_config_is_valid(tmp_path):
    """configs/auto_transcriptome.yaml plans auto and its candidates on the cis windows
    of every gene, with the choices table and no simulation."""
    out = plan_with_config(tmp_path, "auto_transcriptome")
    assert "fit_simulation" not in out and "final_fit" not in out
    assert "results/auto_transcriptome/realdata/groups.tsv" in out
    assert "results/auto_transcriptome/tables/real_auto.tsv" in out


def test_bad_config_fails_before_any_job(tmp_path):
    wd = workdir(tmp_path, TINY.replace("h2: [0.8]", "h2: [1.5]"))
    proc = run(wd, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "h2" in out and "1.5" in out
    assert not (wd / "results").exists()




def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    proc = subprocess.run([str(snakefmt), "--check", "."], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def user_data(wd, n=90, p=400, seed=3):
    """A small PLINK fileset + phenotype and covariate tables, as a user would bring."""
    import numpy as np

    from sparselmm import plink

    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    G[:, 5] = 1  # monomorphic: dropped by QC
    G[::7, 9] = -127  # missing calls: kept and imputed
    iids = [f"id{i}" for i in range(n)]
    plink.write_bed(wd / "data/geno", G, iids, [f"rs{j}" for j in range(p)])
    Xs = (G[:, :3] - G[:, :3].mean(0)) / G[:, :3].std(0)
    strong = Xs @ [1.0, -0.8, 0.6] + rng.normal(size=n) * 0.5
    null = rng.normal(size=n)
    null[:10] = np.nan  # missing for this phenotype only
    # rows in another order than the .fam, plus a sample without genotypes
    order = rng.permutation(n)
    pd.DataFrame({"iid": [iids[i] for i in order] + ["stranger"],
                  "strong": list(strong[order]) + [0.0],
                  "null": list(null[order]) + [1.0]}).to_csv(wd / "data/pheno.tsv", sep="\t",
                                                             index=False, na_rep="NA")
    pd.DataFrame({"iid": iids, "sex": rng.integers(0, 2, n)}).to_csv(
        wd / "data/covar.tsv", sep="\t", index=False)


USER = TINY.replace("realdata:\n  enabled: false\n", "").replace(
    "methods: [sparselmm, lasso, oracle]", "methods: [sparselmm, lasso]") + """
realdata:
  genotypes: data/geno
  phenotype_table: data/pheno.tsv
  covariate_table: data/covar.tsv
  phenotypes: all
  n_pcs: 3
  qc:
    max_missing: 0.2
"""


def test_rerun_from_scratch_gives_byte_identical_outputs(tmp_path):
    """Same config (simulation + real data), two fresh directories: every table,
    figure and intermediate file matches byte for byte, except the run times
    (kept in their own tables for that reason) and logs."""
    dirs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        wd = workdir(tmp_path / name, USER)
        user_data(wd)
        run(wd)
        dirs.append(wd)
    files = sorted(p.relative_to(dirs[0]) for p in (dirs[0] / "results").rglob("*")
                   if p.is_file())
    compared = [p for p in files if p.parts[1] not in ("logs", "benchmarks")
                and not p.name.endswith("timing.tsv") and p.name != "timings.tsv"]
    for must in ("tables/simulation_r2.tsv", "tables/real_r2.tsv", "figures/fig1_simulation.pdf",
                 "figures/fig2_real.pdf", "figures/fig2_real.png", "realdata/covariates.tsv"):
        assert Path("results", must) in compared
    assert len(compared) > 50
    differ = [str(p) for p in compared if (dirs[1] / p).read_bytes() != (dirs[0] / p).read_bytes()]
    assert not differ, differ


def test_every_method_on_both_figures(tmp_path):
    """The beyond-the-paper methods run through the workflow on both figures."""
    methods = ["sparselmm", "hybrid", "ridge", "lasso", "elasticnet", "top1", "oracle"]
    if shutil.which("gemma"):  # setup.sh installs it when run as root
        methods.insert(-1, "bslmm")
    config = USER.replace("methods: [sparselmm, lasso]", f"methods: [{', '.join(methods)}]")
    config = config.replace("n_causal: [1, 10]", "n_causal: [10]")
    config += "bslmm:\n  burn_in: 1000\n  samples: 10000\n"
    wd = workdir(tmp_path, config)
    user_data(wd)
    run(wd)
    sim = read_results(wd / "results/tables/simulation_r2.tsv")
    real = read_results(wd / "results/tables/real_r2.tsv")
    assert set(sim["method"]) == set(methods) and len(sim) == len(methods) * 3
    assert set(real["method"]) == set(methods) - {"oracle"}
    assert len(real) == 2 * (len(methods) - 1) * 3
    assert sim["r2"].notna().all() and real["r2"].notna().all()
    strong = real[real.phenotype == "strong"].groupby("method")["r2_snp"].mean()
    assert (strong.drop(["ridge", "top1"]) > 0.4).all(), strong  # 3 strong SNPs of 400
    # every method's final fit on all samples is exported
    run(wd, "models")
    for m in set(methods) - {"oracle"}:
        info = json.loads((wd / f"results/models/strong/{m}.json").read_text())
        assert info["n_samples"] == 90 and info["n_snps_in_model"] >= 1
    assert 0.1 < strong["top1"] < strong["sparselmm"], strong  # one of the three
    summary = read_results(wd / "results/tables/real_summary.tsv")
    assert set(summary["method"]) == set(methods) - {"oracle"}


def test_user_plink_data_end_to_end(tmp_path):
    wd = workdir(tmp_path, USER)
    user_data(wd)
    run(wd, "results/tables/real_r2.tsv", "results/figures/fig2_real.png",
        "results/tables/timings.tsv", "results/tables/real_summary.tsv")
    summary = read_results(wd / "results/tables/real_summary.tsv")
    assert set(summary["phenotype"]) == {"strong", "null", "(panel mean)"}
    timings = read_results(wd / "results/tables/timings.tsv")
    real = timings[timings.n_causal.isna()]
    assert len(real) == 2 * 2 * 3 and (real["max_rss_mb"] > 10).all()
    table = read_results(wd / "results/tables/real_r2.tsv")
    for col in ("phenotype", "fold", "method", "r2", "r2_snp", "n_train", "n_test", "p"):
        assert col in table.columns
    assert set(table["phenotype"]) == {"strong", "null"}
    assert len(table) == 2 * 2 * 3
    # every fold of every method sees all samples of its phenotype once
    sizes = table.groupby("phenotype")[["n_train", "n_test"]].sum().sum(axis=1) / (3 * 2)
    assert sizes["strong"] == 90 and sizes["null"] == 80  # 10 missing dropped, stranger ignored
    assert (table["p"] == 399).all()  # the monomorphic SNP was dropped
    strong = table[(table.phenotype == "strong") & (table.method == "sparselmm")]
    assert strong["r2_snp"].mean() > 0.5
    qc_log = (wd / "results/logs/genotype_qc.log").read_text()
    assert "monomorphic 1" in qc_log and "missing_calls_kept 13" in qc_log
    cov = pd.read_csv(wd / "results/realdata/covariates.tsv", sep="\t")
    assert list(cov.columns) == ["iid", "PC1", "PC2", "PC3", "sex"]
    assert (wd / "results/figures/fig2_real.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda c: c + "bogus_key: 1\n", "unknown key 'bogus_key' in (top level)"),
        (lambda c: c.replace("folds: 3", "folds: 1"), "1 is less than the minimum of 2"),
        (lambda c: c.replace("n_causal: [1, 10]", "n_causal: [-1, 10]"),
         "-1 is less than the minimum of 1"),
        (lambda c: c.replace("n_snps: 300", "n_snps: many"), "'many' is not of type 'integer'"),
        (lambda c: c.replace("methods: [sparselmm, lasso, oracle]", "methods: [sparselmm, magic]"),
         "'magic' is not one of"),
        (lambda c: c + "hybrid:\n  inference: gibbs\n", "'gibbs' is not one of"),
        (lambda c: c + "hybrid:\n  damping: 1.5\n", "1.5 is greater than the maximum of 1"),
    ],
)
def test_malformed_config_is_rejected_at_dag_construction(tmp_path, edit, message):
    wd = workdir(tmp_path, edit(TINY))
    proc = run(wd, "--dry-run", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (wd / "results").exists()


def test_listed_phenotype_absent_from_existing_table_fails_before_any_job(tmp_path):
    wd = workdir(tmp_path, USER.replace("phenotypes: all", "phenotypes: [strong, height]"))
    user_data(wd)
    proc = run(wd, "--dry-run", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "realdata.phenotypes: height not among the columns of data/pheno.tsv" in out


def test_failing_job_keeps_earlier_outputs(tmp_path):
    # a non-numeric phenotype cell fails the first job that reads the table;
    # everything already computed (and everything independent) stays
    wd = workdir(tmp_path, USER.replace("methods: [sparselmm, lasso]", "methods: [sparselmm]"))
    user_data(wd)
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t", dtype=str)
    pheno.loc[3, "strong"] = "oops"
    pheno.to_csv(wd / "data/pheno.tsv", sep="\t", index=False)
    proc = run(wd, check=False)
    assert proc.returncode != 0
    log = (wd / "results/logs/phenotype_list.log").read_text()
    assert ("data/pheno.tsv, line 5: non-numeric phenotype value 'oops' in column 'strong' "
            "for sample") in log
    assert "Traceback" not in log.split("TableError")[-1]
    assert (wd / "results/tables/simulation_r2.tsv").exists()
    assert (wd / "results/realdata/genotypes/qc.bed").exists()
    assert not (wd / "results/tables/real_r2.tsv").exists()


def test_report_builds_offline(tiny_run):
    run(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results/report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "fig1_simulation" in html


def test_killed_run_resumes_with_only_unfinished_jobs(tmp_path):
    import signal
    import time

    wd = workdir(tmp_path, TINY)
    proc = subprocess.Popen([*SNAKEMAKE, "--cores", "1"], cwd=wd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    fits = wd / "results/simulation/fits"
    deadline = time.time() + 300
    while len(list(fits.rglob("*.metrics.tsv"))) < 4:
        assert proc.poll() is None and time.time() < deadline, "run ended before the kill"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in fits.rglob("*.metrics.tsv")}
    assert 4 <= len(done) < 18
    run(wd, "--unlock")  # a killed Snakemake leaves its lock behind
    out = run(wd, "--dry-run").stdout
    to_do = int(re.search(r"^fit_simulation\s+(\d+)", out, re.M).group(1))
    assert to_do <= 18 - len(done) + 1  # at most the one job killed midway reruns
    run(wd)
    # finished jobs are kept; only a job killed between writing its outputs and
    # being recorded as complete may be recomputed
    recomputed = [p for p, mtime in done.items() if p.stat().st_mtime_ns != mtime]
    assert len(recomputed) <= 1, recomputed
    assert len(list(fits.rglob("*.metrics.tsv"))) == 18


@pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("plink2") is None,
                    reason="needs apt-get (to fetch Debian's qtltools-example) and plink2")
def test_geuvadis_default_data_is_prepared(tmp_path):
    # the real default input: fetched, checksum-verified, converted and QC'd
    wd = workdir(tmp_path, "realdata:\n  n_pcs: 10\n")
    run(wd, "resources/geuvadis/expression.tsv", "results/realdata/covariates.tsv")
    expr = pd.read_csv(wd / "resources/geuvadis/expression.tsv", sep="\t", index_col="iid")
    assert expr.shape == (358, 608)
    qc_log = (wd / "results/logs/genotype_qc.log").read_text()
    assert "snps_in 85485" in qc_log and "samples 358" in qc_log
    cov = pd.read_csv(wd / "results/realdata/covariates.tsv", sep="\t")
    assert cov.shape == (358, 11) and cov["iid"].iloc[0] == "HG00096"


# -- user tables as people have them (PLINK phenotype files, missing and redundant
#    covariates, family data), checked before any fit job --------------------------
REAL_ONLY = ("results/tables/real_r2.tsv",)


def real_run(tmp_path, config=USER, edit=None, check=True):
    wd = workdir(tmp_path, config)
    user_data(wd)
    if edit is not None:
        edit(wd)
    return wd, run(wd, *REAL_ONLY, check=check)


def no_fit_ran(wd):
    return not (wd / "results/realdata/fits").exists()


def as_psam(wd):
    """The phenotype table as PLINK 2 writes it: '#FID IID SEX ...', -9 missing."""
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t")
    rows = ["#FID\tIID\tSEX\tstrong\tnull"]
    for _, r in pheno.iterrows():
        values = ["-9" if pd.isna(v) else repr(float(v)) for v in (r.strong, r.null)]
        rows.append("\t".join([r.iid, r.iid, "2", *values]))
    (wd / "data/pheno.psam").write_text("\n".join(rows) + "\n")


def test_plink2_phenotype_file_gives_the_same_results_as_tsv(tmp_path):
    (tmp_path / "tsv").mkdir(), (tmp_path / "psam").mkdir()
    tsv, _ = real_run(tmp_path / "tsv")
    psam, _ = real_run(tmp_path / "psam", USER.replace("data/pheno.tsv", "data/pheno.psam"),
                       as_psam)
    a, b = (read_results(wd / "results/tables/real_r2.tsv") for wd in (tsv, psam))
    assert set(b["phenotype"]) == {"strong", "null"}  # SEX is not a phenotype
    pd.testing.assert_frame_equal(a, b)
    log = (psam / "results/logs/phenotype_list.log").read_text()
    assert "1 of 91 samples are not in" in log and "'null': 10 genotyped sample(s)" in log


def case_control_psam(wd):
    """A new user's disease: a PLINK 2 .psam whose trait is coded 1 = control / 2 = case
    (the 30 % highest of 'strong'), 0 and -9 missing, beside a quantitative column."""
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t")
    status = np.where(pheno.strong > pheno.strong.quantile(0.7), "2", "1").astype(object)
    status[:3], status[3:5] = "0", "-9"
    rows = ["#FID\tIID\tSEX\tdisease\tstrong"]
    rows += [f"{i}\t{i}\t1\t{s}\t{q!r}" for i, s, q in zip(pheno.iid, status, pheno.strong)]
    (wd / "data/pheno.psam").write_text("\n".join(rows) + "\n")


def test_a_case_control_psam_is_scored_by_auc_and_liability_r2(tmp_path):
    config = USER.replace("data/pheno.tsv", "data/pheno.psam").replace(
        "  phenotypes: all\n", "  phenotypes: [disease]\n  prevalence: 0.1\n").replace(
        "methods: [sparselmm, lasso]", "methods: [sparselmm, sparselmm_logistic, lasso]").replace(
        "simulation:\n", "simulation:\n  enabled: false\n")
    wd = workdir(tmp_path, config)
    user_data(wd)
    case_control_psam(wd)
    run(wd, "results/tables/real_r2.tsv", "results/tables/real_summary.tsv",
        "results/figures/fig2_real.png")
    table = read_results(wd / "results/tables/real_r2.tsv")
    assert (table[["auc", "auc_snp", "nagelkerke_r2", "r2_liability"]].notna().all().all()
            and (table["prevalence"] == 0.1).all())
    assert table.groupby("method")["auc"].mean().min() > 0.7  # 'strong' is well predicted
    log = (wd / "results/logs/phenotype_list.log").read_text()
    psam = pd.read_csv(wd / "data/pheno.psam", sep="\t")
    psam = psam[psam.IID != "stranger"]  # not genotyped
    cases, controls = (psam.disease == 2).sum(), (psam.disease == 1).sum()
    assert cases + controls == 85  # 0 and -9: missing
    assert f"'disease' is binary: {cases} cases, {controls} controls" in log
    preds = pd.concat(pd.read_csv(f, sep="\t") for f in
                      (wd / "results/realdata/fits").rglob("*.predictions.tsv"))
    assert set(preds["y"]) == {0.0, 1.0}  # fitted as 0/1, not rank-transformed
    summary = pd.read_csv(wd / "results/tables/real_summary.tsv", sep="\t")
    assert {"r2_snp", "auc", "r2_liability"} == set(summary["metric"])
    # the logistic model predicts probabilities
    logit = preds[preds["pred"].between(0, 1)]
    assert set(table["method"]) == {"sparselmm", "sparselmm_logistic", "lasso"} and len(logit)


def test_a_logistic_method_on_a_quantitative_phenotype_stops_early(tmp_path):
    config = USER.replace("methods: [sparselmm, lasso]", "methods: [sparselmm_logistic]").replace(
        "simulation:\n", "simulation:\n  enabled: false\n")
    wd, proc = real_run(tmp_path, config, check=False)
    assert proc.returncode != 0 and no_fit_ran(wd)
    assert "sparselmm_logistic fit binary (case-control) phenotypes only" in (
        wd / "results/logs/phenotype_list.log").read_text()
    # the simulation of a quantitative trait: refused before any job
    (tmp_path / "sim").mkdir()
    wd = workdir(tmp_path / "sim", TINY.replace("methods: [sparselmm, lasso, oracle]",
                                                "methods: [sparselmm_logistic]"))
    proc = run(wd, "--dry-run", check=False)
    assert proc.returncode != 0
    assert "set simulation.prevalence" in proc.stdout + proc.stderr


def test_fig1_of_a_disease(tmp_path):
    config = TINY.replace("methods: [sparselmm, lasso, oracle]",
                          "methods: [sparselmm, sparselmm_logistic, lasso, oracle]").replace(
        "  seed: 7\n", "  seed: 7\n  prevalence: 0.3\n")
    wd = workdir(tmp_path, config)
    run(wd)
    table = read_results(wd / "results/tables/simulation_r2.tsv")
    assert table["auc"].notna().all() and (table["prevalence"] == 0.3).all()
    data = pd.read_csv(wd / "results/simulation/data/c1_h0.8/rep1/phenotypes.tsv", sep="\t")
    assert set(data["y"]) == {0.0, 1.0} and data["y"].sum() == 36  # 30 % of 120
    mean = table.groupby(["n_causal", "method"])["auc"].mean()
    assert mean[(1, "oracle")] > 0.8 and mean[(1, "sparselmm_logistic")] > 0.75
    summary = pd.read_csv(wd / "results/tables/simulation_summary.tsv", sep="\t")
    assert {"r2_snp", "auc", "r2_liability"} == set(summary["metric"])
    assert (wd / "results/figures/fig1_simulation.png").stat().st_size > 10_000


def messy_covariates(wd):
    """A CSV with an empty cell, a copied column and a constant column."""
    cov = pd.read_csv(wd / "data/covar.tsv", sep="\t")
    cov["age"] = np.random.default_rng(5).normal(40, 10, len(cov)).round(1)
    cov["age_copy"] = cov["age"]
    cov["site"] = 1
    cov["age"] = cov["age"].astype(object)
    cov.loc[4, "age"] = ""
    cov.to_csv(wd / "data/covar.csv", index=False)


def test_missing_and_redundant_covariates_are_settled_by_the_covariate_rule(tmp_path):
    wd, _ = real_run(tmp_path, USER.replace("data/covar.tsv", "data/covar.csv"), messy_covariates)
    log = (wd / "results/logs/covariates.log").read_text()
    assert "data/covar.csv: column 'age': 1 sample(s) with a missing covariate value left out " \
           "(first: 'id4')" in log
    assert "covariate column 'age_copy' dropped: a linear combination of 'age'" in log
    assert "covariate column 'site' dropped: constant (1)" in log
    cov = pd.read_csv(wd / "results/realdata/covariates.tsv", sep="\t")
    assert list(cov.columns) == ["iid", "PC1", "PC2", "PC3", "sex", "age"] and len(cov) == 89
    table = read_results(wd / "results/tables/real_r2.tsv")
    strong = table[(table.phenotype == "strong") & (table.method == "sparselmm")]
    folds = pd.read_csv(wd / "results/realdata/folds/group1.tsv", sep="\t")
    assert strong["n_test"].sum() == 89 and "id4" not in folds.dropna(subset=["strong"])["iid"]


def families(wd):
    """Two families that reuse the same IIDs (id0..id44 in family A and in B)."""
    fam = (wd / "data/geno.fam").read_text().splitlines()
    lines = []
    for k, line in enumerate(fam):
        f = line.split()
        f[0], f[1] = ("A" if k < 45 else "B"), f"id{k % 45}"
        lines.append(" ".join(f))
    (wd / "data/geno.fam").write_text("\n".join(lines) + "\n")
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t").set_index("iid")
    out = ["FID IID strong null"]
    for k in range(90):
        y = pheno.loc[f"id{k}"]
        values = ["NA" if pd.isna(v) else repr(float(v)) for v in (y.strong, y.null)]
        out.append(" ".join(["A" if k < 45 else "B", f"id{k % 45}", *values]))
    (wd / "data/pheno.txt").write_text("\n".join(out) + "\n")
    cov = pd.read_csv(wd / "data/covar.tsv", sep="\t")
    cov.insert(0, "fid", ["A" if k < 45 else "B" for k in range(90)])
    cov["iid"] = [f"id{k % 45}" for k in range(90)]
    cov.to_csv(wd / "data/covar.tsv", sep="\t", index=False)


def test_family_data_with_repeated_iids_is_matched_on_fid_and_iid(tmp_path):
    # the TSV phenotype table has no FID: refused, naming the IID the .fam repeats
    wd, proc = real_run(tmp_path, edit=families, check=False)
    assert proc.returncode != 0 and no_fit_ran(wd)
    log = (wd / "results/logs/phenotype_list.log").read_text()
    assert "data/pheno.tsv: the genotypes' " in log and "repeats IID 'id0' (families 'A', 'B')" \
        in log and "no FID column" in log
    # the same phenotypes as a PLINK 1 file with FID and IID: every sample matched
    (wd / "config.yaml").write_text(USER.replace("data/pheno.tsv", "data/pheno.txt"))
    run(wd, *REAL_ONLY)
    table = read_results(wd / "results/tables/real_r2.tsv")
    sizes = table[table.method == "sparselmm"].groupby("phenotype")["n_test"].sum()
    assert sizes["strong"] == 90 and sizes["null"] == 80
    folds = pd.read_csv(wd / "results/realdata/folds/group1.tsv", sep="\t")
    assert {"A id0", "B id0"} <= set(folds.dropna(subset=["strong"])["iid"])
    strong = table[(table.phenotype == "strong") & (table.method == "sparselmm")]
    assert strong["r2_snp"].mean() > 0.5


def bad_covariate_cell(wd):
    cov = pd.read_csv(wd / "data/covar.tsv", sep="\t", dtype=str)
    cov.loc[6, "sex"] = "female"
    cov.to_csv(wd / "data/covar.tsv", sep="\t", index=False)


def rare_covariate(wd):
    cov = pd.read_csv(wd / "data/covar.tsv", sep="\t")
    cov["rare"] = 0
    cov.loc[[3], "rare"] = 1  # one carrier: constant in the training samples of its fold
    cov.to_csv(wd / "data/covar.tsv", sep="\t", index=False)


@pytest.mark.parametrize(
    "edit,log,message",
    [
        (bad_covariate_cell, "covariates.log",
         "data/covar.tsv, line 8: non-numeric covariate value 'female' in column 'sex' for "
         "sample 'id6'"),
        (rare_covariate, "real_folds/group1.log",
         "covariate 'rare' is constant (0) in the training samples of fold"),
    ],
)
def test_bad_user_tables_stop_the_run_before_any_fit(tmp_path, edit, log, message):
    wd, proc = real_run(tmp_path, edit=edit, check=False)
    assert proc.returncode != 0 and no_fit_ran(wd)
    text = (wd / "results/logs" / log).read_text()
    assert message in text
    assert (wd / "results/realdata/genotypes/qc.bed").exists()  # computed outputs kept


def test_unreadable_phenotype_header_fails_at_dag_construction(tmp_path):
    wd = workdir(tmp_path, USER)
    user_data(wd)
    pheno = (wd / "data/pheno.tsv").read_text()
    (wd / "data/pheno.tsv").write_text(pheno.replace("iid\t", "sample\t", 1))
    proc = run(wd, "--dry-run", check=False)
    assert proc.returncode != 0
    assert "config.yaml realdata: data/pheno.tsv, line 1: expected a header line with an 'iid' " \
           "column" in proc.stdout + proc.stderr
    assert not (wd / "results").exists()


# -- trained models and scoring another cohort ---------------------------------------
def test_models_and_scoring_another_cohort(tmp_path):
    import sqlite3

    from sparselmm import plink

    fusion = shutil.which("Rscript") is not None  # (setup.sh installs R)
    config = USER + "models:\n  predixcan: true\n  min_pip: 0\n" + (
        "  fusion: true\n" if fusion else "")
    wd = workdir(tmp_path, config)
    user_data(wd)
    run(wd, "models")
    # one final-fit job per group x method; its manifest lists the group's models
    manifest = pd.read_csv(wd / "results/models/groups/group1/sparselmm.tsv", sep="\t",
                           keep_default_na=False)
    assert manifest["phenotype"].tolist() == ["strong", "null"]
    if fusion:
        pos = pd.read_csv(wd / "results/models/fusion/models.pos", sep="\t", keep_default_na=False)
        assert set(pos["ID"]) == {"strong", "null"}
        assert all((wd / "results/models/fusion" / w).exists() for w in pos["WGT"])
    for method in ("sparselmm", "lasso"):
        for ext in (".weights.tsv", ".score", ".afreq", ".json"):
            assert (wd / f"results/models/strong/{method}{ext}").exists()
    info = json.loads((wd / "results/models/strong/sparselmm.json").read_text())
    assert info["n_samples"] == 90 and info["cv"]["folds"] == 3
    assert info["cv"]["r2_snp_mean"] > 0.5 and set(info["covariates"]) == {"PC1", "PC2", "PC3",
                                                                           "sex"}
    con = sqlite3.connect(wd / "results/models/predixcan/lasso.db")
    genes = [r[0] for r in con.execute("SELECT gene FROM extra ORDER BY gene")]
    assert genes == ["null", "strong"]
    con.close()
    # S-PrediXcan's covariance beside it, and PredictDB's filter (the strong gene only)
    cov = pd.read_csv(wd / "results/models/predixcan/lasso.covariances.txt.gz", sep="\t")
    n_strong = (pd.read_csv(wd / "results/models/strong/lasso.weights.tsv", sep="\t")["weight"]
                != 0).sum()
    assert (cov["GENE"] == "strong").sum() == n_strong * (n_strong + 1) // 2
    con = sqlite3.connect(wd / "results/models/predixcan/lasso.filtered.db")
    assert [r[0] for r in con.execute("SELECT gene FROM extra")] == ["strong"]
    con.close()
    filtered = pd.read_csv(wd / "results/models/predixcan/lasso.filtered.covariances.txt.gz",
                           sep="\t")
    assert set(filtered["GENE"]) == {"strong"} and len(filtered) == (cov["GENE"] == "strong").sum()
    # another cohort: the same people's genotypes with the SNPs reversed, some SNPs
    # missing and one allele pair swapped; scored by name
    G = plink.read_genotypes(wd / "data/geno")
    bim = (wd / "data/geno.bim").read_text().splitlines()
    keep = [j for j in range(G.shape[1]) if j % 50 != 7][::-1]
    H = G[:, keep].copy()
    lines = [bim[j].split() for j in keep]
    lines[0][4], lines[0][5] = lines[0][5], lines[0][4]
    H[:, 0] = np.where(H[:, 0] == -127, -127, 2 - H[:, 0])
    fam = (wd / "data/geno.fam").read_text()
    plink.write_bed_props(wd / "data/cohort", H, {
        "fid": [f.split()[0] for f in fam.splitlines()],
        "iid": [f.split()[1] for f in fam.splitlines()],
        "sid": [ln[1] for ln in lines], "chromosome": [ln[0] for ln in lines],
        "bp_position": [int(ln[3]) for ln in lines], "allele_1": [ln[4] for ln in lines],
        "allele_2": [ln[5] for ln in lines]})
    (wd / "config.yaml").write_text(config + "scoring:\n  genotypes: data/cohort\n")
    run(wd, "score")
    preds = pd.read_csv(wd / "results/scores/cohort.predictions.tsv", sep="\t")
    assert len(preds) == 90 * 2 * 2 and set(preds["method"]) == {"sparselmm", "lasso"}
    snps = pd.read_csv(wd / "results/scores/cohort.snps.tsv", sep="\t")
    s = snps[(snps.phenotype == "strong") & (snps.method == "sparselmm")].iloc[0]
    assert s.absent == 8 and s.flipped == 1 and s.matched == s.model_snps - 8
    log = (wd / "results/logs/score/cohort.log").read_text()
    assert "strong / sparselmm: " in log and "(1 with A1/A2 swapped" in log
    # the strong phenotype's predicted values track the observed ones
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t").set_index("iid")
    p = preds[(preds.phenotype == "strong") & (preds.method == "sparselmm")].set_index("iid")
    assert np.corrcoef(p["prediction"], pheno.loc[p.index, "strong"])[0, 1] > 0.8


def test_score_without_a_cohort_says_what_to_set(tmp_path):
    wd = workdir(tmp_path, USER)
    user_data(wd)
    proc = run(wd, "score", "--dry-run", check=False)
    assert proc.returncode != 0
    assert "target 'score' needs scoring.genotypes" in proc.stdout + proc.stderr


# -- cis windows and grouped fits --------------------------------------------------------
def cis_data(wd):
    """SNPs rs0..rs199 on chromosome 1 at 1..200 kb, rs200..rs399 on chromosome 2 at the
    same positions; 'strong' (driven by rs0-rs2) at chr1:2 kb, 'null' at chr1:900 kb
    (nothing within 50 kb), 'copy' (= strong) at chr2:2 kb, 'lost' without a position."""
    bim = [line.split() for line in (wd / "data/geno.bim").read_text().splitlines()]
    for j, f in enumerate(bim):
        f[0], f[3] = ("1", str(1000 * (j + 1))) if j < 200 else ("2", str(1000 * (j - 199)))
    (wd / "data/geno.bim").write_text("".join("\t".join(f) + "\n" for f in bim))
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t")
    pheno["copy"], pheno["lost"] = pheno["strong"], pheno["null"]
    pheno.to_csv(wd / "data/pheno.tsv", sep="\t", index=False, na_rep="NA")
    (wd / "data/genes.bed").write_text(
        "#chr\tstart\tend\tgene_id\tstrand\n"
        "chr1\t1999\t2000\tstrong\t+\nchr1\t899999\t900000\tnull\t-\n"
        "chr2\t1999\t2000\tcopy\t+\n")


def test_cis_windows_end_to_end(tmp_path):
    """Cis windows as a separate analysis (results/cis/), the simulation switched off."""
    config = USER + ("  cis_window_kb: 50\n  phenotype_positions: data/genes.bed\n"
                     "  group_size: 1\n") + "analysis: cis\n"
    config = config.replace("simulation:\n", "simulation:\n  enabled: false\n", 1)
    wd = workdir(tmp_path, config)
    user_data(wd)
    cis_data(wd)
    run(wd)
    assert not (wd / "results/simulation").exists() and not (wd / "results/tables").exists()
    out = wd / "results/cis"
    assert (out / "tables/real_predicted.tsv").exists() and (out / "figures/fig2_real.png").exists()
    table = read_results(out / "tables/real_r2.tsv")
    assert set(table["phenotype"]) == {"strong", "copy"}
    # chr1:1-52 kb holds rs0..rs51 less the monomorphic rs5; the same stretch of
    # chromosome 2 (rs200..rs251) is another chromosome's and not in the window
    assert (table.loc[table.phenotype == "strong", "p"] == 51).all()
    assert (table.loc[table.phenotype == "copy", "p"] == 52).all()
    r2 = table.groupby(["phenotype", "method"])["r2_snp"].mean()
    assert r2["strong", "sparselmm"] > 0.5 and r2["copy", "sparselmm"] < 0.1
    skipped = pd.read_csv(out / "realdata/skipped.tsv", sep="\t", keep_default_na=False)
    assert dict(zip(skipped.phenotype, skipped.reason)) == {
        "null": "no SNP within 50 kb (chromosome 1:850000-950000)",
        "lost": "no position in the position table"}
    log = (out / "logs/phenotype_list.log").read_text()
    assert "warning: phenotype null skipped: no SNP within 50 kb" in log
    groups = pd.read_csv(out / "realdata/groups.tsv", sep="\t")
    assert groups["group"].tolist() == [1, 2]  # one phenotype per job here
    # the exported model holds only SNPs of its window
    weights = pd.read_csv(out / "models/strong/sparselmm.weights.tsv", sep="\t")
    assert set(weights["chrom"].astype(str)) == {"1"} and weights["pos"].max() <= 52_000
    info = json.loads((out / "models/strong/sparselmm.json").read_text())
    assert info["n_snps"] == 51 and info["cis_window"]["kb"] == 50
    assert info["cv"]["folds"] == 3
    # one fit asked for by name (its params come from the checkpoint's groups):
    # it is made again, the same
    fit = out / "realdata/fits/group1/sparselmm/fold0.metrics.tsv"
    before = fit.read_text()
    run(wd, "--forcerun", str(fit.relative_to(wd)), "--", str(fit.relative_to(wd)))
    assert fit.read_text() == before


# -- Fig 1 under linkage disequilibrium ---------------------------------------------------
def test_fig1_on_coalescent_and_real_genotypes_as_separate_analyses(tmp_path):
    """Coalescent genotypes (the hybrid's E-step summarised per scenario) and
    semi-synthetic data on a user's PLINK fileset, each under results/{analysis}/."""
    config = TINY.replace("methods: [sparselmm, lasso, oracle]",
                          "methods: [sparselmm, hybrid, oracle]").replace(
        "n_causal: [1, 10]", "n_causal: [5]").replace(
        "simulation:\n", "simulation:\n  genotypes: coalescent\n") + "analysis: ld\n"
    wd = workdir(tmp_path, config)
    run(wd)
    assert not (wd / "results/tables").exists()
    out = wd / "results/ld"
    table = read_results(out / "tables/simulation_r2.tsv")
    assert set(table["method"]) == {"sparselmm", "hybrid", "oracle"} and len(table) == 9
    assert (table.loc[table.method == "oracle", "r2_snp"] > 0.6).all()
    assert set(table.loc[table.method == "hybrid", "inference"]) <= {"vamp", "mean_field"}
    status = pd.read_csv(out / "tables/simulation_hybrid.tsv", sep="\t")
    assert status["fits"].tolist() == [3]
    assert (status["vamp_configured_damping"] + status["vamp_more_damping"]
            + status["mean_field_fallback"] == 3).all()
    bim = pd.read_csv(out / "simulation/data/c5_h0.8/rep1/genotypes.bim", sep="\t", header=None)
    assert len(bim) == 300 and bim[3].is_monotonic_increasing and bim[3].iloc[-1] > 300
    assert (out / "figures/fig1_simulation.png").exists()
    # semi-synthetic: the user's genotypes, QC'd as in Fig 2 (dropped: the monomorphic
    # SNP, and the one with 13 of 90 calls missing, above realdata.qc.max_missing 0.05)
    user_data(wd)
    (wd / "config.yaml").write_text(config.replace("genotypes: coalescent",
                                                   "genotypes: data/geno").replace(
        "analysis: ld", "analysis: semi"))
    run(wd)
    semi = read_results(wd / "results/semi/tables/simulation_r2.tsv")
    assert (semi["p"] == 398).all() and (semi["n_train"] + semi["n_test"] == 90).all()
    truth = json.loads((wd / "results/semi/simulation/data/c5_h0.8/rep1/truth.json").read_text())
    assert truth["genotypes"] == "results/semi/simulation/genotypes/qc"


@pytest.mark.parametrize("override,key,value", [
    ("cv={folds: 3}", "cv.folds", "3"),
    ("simulation={n_individuals: 300}", "simulation.n_individuals", "300"),
    ("realdata={enabled: false}", "realdata.enabled", "False"),
    ("simulation={h2: [0.5]}", "simulation.h2", "[0.5]"),
    ("realdata={enabled: false, prevalence: 0.01}", "realdata.prevalence", "0.01"),
])
def test_nested_config_overrides_are_typed(tmp_path, override, key, value):
    """Snakemake passes nested --config values as text; the schema's types apply."""
    wd = workdir(tmp_path, (ROOT / "config.yaml").read_text())
    proc = run(wd, "--dry-run", "--config", override, "realdata={enabled: false}"
               if not override.startswith("realdata") else "cv={seed: 1}")
    assert "is not of type" not in proc.stdout + proc.stderr


def test_misspelt_key_is_one_short_message(tmp_path):
    wd = workdir(tmp_path, (ROOT / "config.yaml").read_text() + "simulaton:\n  n_snps: 5\n")
    proc = run(wd, "--dry-run", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "unknown key 'simulaton' in (top level); did you mean 'simulation'?" in out
    assert len(out.splitlines()) < 12, out


# -- faults over a finished run: mistyped paths, interrupted and failed jobs --------
@pytest.fixture(scope="module")
def finished_real(tmp_path_factory):
    wd = workdir(tmp_path_factory.mktemp("finished"), USER)
    user_data(wd)
    run(wd, *REAL_ONLY)
    return wd


def copy_of(finished, tmp_path):
    """The finished run (results, Snakemake's records, mtimes) in a directory of its own."""
    wd = tmp_path / "run"
    shutil.copytree(finished, wd, symlinks=True)
    return wd


@pytest.mark.parametrize("old, new, message", [
    ("genotypes: data/geno", "genotypes: data/gen",
     "config.yaml realdata.genotypes: data/gen.bed, data/gen.bim, data/gen.fam do not exist"),
    ("genotypes: data/geno", "genotypes: data/geno.bed",
     "(give the prefix, without .bed: data/geno)"),
    ("phenotype_table: data/pheno.tsv", "phenotype_table: data/phenos.tsv",
     "config.yaml realdata.phenotype_table: data/phenos.tsv does not exist"),
    ("covariate_table: data/covar.tsv", "covariate_table: data/covars.tsv",
     "config.yaml realdata.covariate_table: data/covars.tsv does not exist"),
])
def test_a_mistyped_path_over_a_finished_run_is_an_error(finished_real, tmp_path, old, new,
                                                         message):
    # (it used to say "Nothing to be done" and exit 0: the old results looked current)
    wd = copy_of(finished_real, tmp_path)
    (wd / "config.yaml").write_text(USER.replace(old, new))
    proc = run(wd, *REAL_ONLY, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-2000:]
    assert len(out.splitlines()) < 10, out


def test_packed_genotypes_give_the_same_table(finished_real, tmp_path):
    """genotype_storage: packed (the fits read the mapped .bed) reruns the fits, whose
    table is the int8 run's byte for byte."""
    wd = copy_of(finished_real, tmp_path)
    table = (wd / REAL_ONLY[0]).read_bytes()
    (wd / "config.yaml").write_text(USER.replace("realdata:\n", "realdata:\n"
                                                 "  genotype_storage: packed\n"))
    run(wd, *REAL_ONLY)
    log = (wd / "results/logs/fit_real/group1/sparselmm/fold0.log").read_text()
    assert "mapped (2 bits per genotype)" in log
    assert (wd / REAL_ONLY[0]).read_bytes() == table


def test_an_interrupted_fit_job_is_redone(finished_real, tmp_path):
    """A fit job killed after its files appeared (cut short, as a kill or a full disk
    leaves a file written in place) is redone by the next run, although it comes after
    the checkpoint, whose dependants' incomplete markers Snakemake does not check."""
    import signal
    import time

    wd = copy_of(finished_real, tmp_path)
    table = (wd / REAL_ONLY[0]).read_bytes()
    rel = "results/realdata/fits/group1/lasso/fold1"
    fit = wd / rel
    whole = {ext: Path(f"{fit}.{ext}.tsv").read_bytes()
             for ext in ("predictions", "metrics", "timing")}
    proc = subprocess.Popen([*SNAKEMAKE, "--cores", "1", "--force", f"{rel}.metrics.tsv"],
                            cwd=wd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    marks = wd / ".snakemake/incomplete"
    while not (marks.is_dir() and any(marks.iterdir())):  # the job has started
        assert proc.poll() is None and time.time() < deadline, "the run ended first"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(marks.iterdir()), "the job was not interrupted"
    for ext, data in whole.items():  # what a job killed while writing in place leaves
        Path(f"{fit}.{ext}.tsv").write_bytes(data[: len(data) // 2] if ext == "metrics"
                                             else data)
    run(wd, "--unlock")
    out = run(wd, *REAL_ONLY).stderr
    # (the workflow says "3 file(s) were being written when a run was interrupted";
    # in one run of the suite the job was redone without it, for another reason)
    assert re.search(r"^fit_real\s+1$", out, re.M), out[-3000:]
    assert (wd / REAL_ONLY[0]).read_bytes() == table
    assert Path(f"{fit}.metrics.tsv").read_bytes() == whole["metrics"]


def test_a_fit_file_cut_short_stops_the_table_job_naming_it(finished_real, tmp_path):
    wd = copy_of(finished_real, tmp_path)
    metrics = wd / "results/realdata/fits/group1/sparselmm/fold2.metrics.tsv"
    text = metrics.read_text()
    metrics.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1])  # the last row lost
    proc = run(wd, *REAL_ONLY, check=False)
    assert proc.returncode != 0
    # the job's own message, shown in the terminal by the onerror handler
    assert ("fold2.metrics.tsv: 1 rows for the 2 phenotypes of group 1; it lacks "
            in proc.stderr), proc.stderr[-3000:]


def test_a_failed_job_shows_its_message_and_fails_again_on_rerun(finished_real, tmp_path):
    wd = copy_of(finished_real, tmp_path)
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t", dtype=str)
    pheno.loc[3, "strong"] = "oops"
    pheno.to_csv(wd / "data/pheno.tsv", sep="\t", index=False)
    message = "data/pheno.tsv, line 5: non-numeric phenotype value 'oops' in column 'strong'"
    for attempt in range(2):
        # the second run, the input unchanged, said "Nothing to be done" and exited 0,
        # with the earlier run's tables in place
        proc = run(wd, *REAL_ONLY, check=False)
        assert proc.returncode != 0, (attempt, proc.stderr[-2000:])
        tail = proc.stderr[proc.stderr.index("== phenotype_list failed; the end of its log"):]
        assert message in tail, proc.stderr[-2000:]
