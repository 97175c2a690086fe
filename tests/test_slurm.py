"""The workflow on a real single-node SLURM cluster started on localhost.

Needs root and Debian's slurm-wlm + munge (installed here with apt-get when
missing); skipped with the reason otherwise. Every daemon this module starts is
stopped by PID at the end. Facts this relies on (Debian 12, slurm-wlm 22.05):
daemons started by hand listen on loopback only with
``CommunicationParameters=NoInAddrAny,NoCtldInAddrAny``; the config must be
``/etc/slurm/slurm.conf`` (the job-step helper drops ``SLURM_CONF``); without
accounting the executor uses ``squeue`` for states, so ``MinJobAge`` is high.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from test_workflow import TINY, run, user_data, workdir

CONF = Path("/etc/slurm/slurm.conf")
MARK = "# written by sparselmm tests/test_slurm.py"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]


def _have_binaries():
    return all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "squeue", "munged"))


def _install():
    if _have_binaries():
        return None
    if os.geteuid() != 0:
        return "not root: cannot install or start SLURM"
    if shutil.which("apt-get") is None:
        return "no apt-get: cannot install Debian's slurm-wlm and munge"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr[-500:]}"
    return None if _have_binaries() else "slurm binaries still missing after apt-get"


def _pid(path, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.2)
    raise RuntimeError(f"{path} did not appear")


def _write_conf(host, spool):
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(f"""{MARK}
ClusterName=sparselmm-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation={spool}/ctld
SlurmdSpoolDir={spool}/d
SlurmctldPidFile={spool}/slurmctld.pid
SlurmdPidFile={spool}/slurmd.pid
SlurmctldLogFile={spool}/slurmctld.log
SlurmdLogFile={spool}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = _install()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("not root: cannot start slurmctld/slurmd")
    if CONF.exists() and MARK not in CONF.read_text():
        pytest.skip(f"{CONF} exists and is not ours: not touching a real cluster's config")
    if subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0:
        pytest.skip("a slurmctld is already running on this machine")
    spool = tmp_path_factory.mktemp("slurm")
    for d in ("ctld", "d"):
        (spool / d).mkdir()
    host = socket.gethostname().split(".")[0]
    _write_conf(host, spool)
    pids = []
    munge_run = Path("/run/munge")
    if not (munge_run / "munge.socket.2").exists():
        for d in (munge_run, Path("/var/log/munge"), Path("/var/lib/munge")):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run(["mungekey", "--create"], check=True)
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        pids.append(_pid(munge_run / "munged.pid"))
    try:
        subprocess.run(["slurmctld"], check=True)
        pids.append(_pid(spool / "slurmctld.pid"))
        subprocess.run(["slurmd"], check=True)
        pids.append(_pid(spool / "slurmd.pid"))
        end = time.time() + 60
        while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True,
                                           text=True).stdout:
            if time.time() > end:
                raise RuntimeError("SLURM node never became idle: "
                                   + (spool / "slurmctld.log").read_text()[-2000:])
            time.sleep(0.5)
        yield host
    finally:
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        CONF.unlink(missing_ok=True)


SMALL = TINY.replace("n_causal: [1, 10]", "n_causal: [10]").replace(
    "methods: [sparselmm, lasso, oracle]", "methods: [sparselmm, oracle]").replace(
    "folds: 3", "folds: 2")


def test_workflow_runs_through_slurm(slurm_cluster, tmp_path):
    wd = workdir(tmp_path, SMALL)
    proc = run(wd, "--workflow-profile", "profiles/slurm", "--jobs", "4")
    out = proc.stdout + proc.stderr
    assert "SLURM" in out and "jobid" in out.lower(), out[-2000:]
    table = pd.read_csv(wd / "results/tables/simulation_r2.tsv", sep="\t")
    assert len(table) == 1 * 2 * 2 and table["r2"].notna().all()
    assert (wd / "results/figures/fig1_simulation.png").exists()


def test_failing_job_makes_snakemake_fail(slurm_cluster, tmp_path):
    config = SMALL.replace("realdata:\n  enabled: false\n", "") + """
realdata:
  genotypes: data/geno
  phenotype_table: data/pheno.tsv
  phenotypes: all
  n_pcs: 2
"""
    wd = workdir(tmp_path, config)
    user_data(wd)
    pheno = pd.read_csv(wd / "data/pheno.tsv", sep="\t", dtype=str)
    pheno.loc[3, "strong"] = "oops"  # a non-numeric cell: the checkpoint job fails
    pheno.to_csv(wd / "data/pheno.tsv", sep="\t", index=False)
    proc = run(wd, "--workflow-profile", "profiles/slurm", "--jobs", "4", check=False)
    assert proc.returncode != 0
    # the simulation half, independent of the failing job, still finished
    assert (wd / "results/tables/simulation_r2.tsv").exists()
    log = (wd / "results/logs/phenotype_list.log").read_text()
    assert "non-numeric phenotype value 'oops'" in log
