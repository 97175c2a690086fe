"""End-to-end runs of the Snakemake workflow on tiny configs."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = workdir(tmp_path_factory.mktemp("fig1"), TINY)
    run(wd)
    return wd


def test_fig1_end_to_end(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/simulation_r2.tsv", sep="\t")
    assert len(table) == 2 * 1 * 3 * 3  # scenarios x replicates x methods x folds
    for col in ("n_causal", "h2", "replicate", "fold", "method", "r2", "r2_snp", "seconds"):
        assert col in table.columns
    assert set(table["method"]) == {"sparselmm", "lasso", "oracle"}
    assert table["r2"].notna().all() and table["converged"].all()
    mean = table.groupby(["n_causal", "method"])["r2_snp"].mean()
    # the oracle is the ceiling; with one strong SNP and h2 = 0.8 the sparse
    # model gets close to it
    assert mean[(1, "oracle")] > 0.6
    assert mean[(1, "sparselmm")] > mean[(1, "oracle")] - 0.15
    for ext in ("png", "pdf"):
        fig = tiny_run / f"results/figures/fig1_simulation.{ext}"
        assert fig.stat().st_size > 10_000
    # the genotypes went through PLINK files
    assert (tiny_run / "results/simulation/data/c10_h0.8/rep1/genotypes.bed").exists()


def test_second_run_has_nothing_to_do(tiny_run):
    proc = run(tiny_run, "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_simulation_is_bit_identical_on_rerun(tiny_run, tmp_path):
    wd = workdir(tmp_path, TINY)
    target = "results/simulation/data/c10_h0.8/rep1/genotypes.bed"
    run(wd, target, "results/simulation/data/c10_h0.8/rep1/phenotypes.tsv")
    for name in ("genotypes.bed", "phenotypes.tsv", "truth.json"):
        a = (wd / "results/simulation/data/c10_h0.8/rep1" / name).read_bytes()
        b = (tiny_run / "results/simulation/data/c10_h0.8/rep1" / name).read_bytes()
        assert a == b, name


def test_lint_is_clean():
    proc = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


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
