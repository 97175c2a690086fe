"""The opening every workflow script shares (imported before numpy loads).

Snakemake puts the directory of a local ``script:`` on ``sys.path``, so a script
starts with ``from common import start`` and then imports the package.
"""

import os
import sys

PLINK_EXTENSIONS = (".bed", ".bim", ".fam")


def start(snakemake, *, blas_threads=False):
    """Send stderr to the job's log; with ``blas_threads``, limit BLAS to the job's
    threads (parallel jobs must not oversubscribe the cores). Call it before
    anything imports numpy."""
    sys.stderr = open(snakemake.log[0], "w")
    if blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(snakemake.threads)


def plink_prefix(path):
    """The PLINK prefix of a ``.bed``, ``.bim`` or ``.fam`` path."""
    path = str(path)
    for ext in PLINK_EXTENSIONS:
        if path.endswith(ext):
            return path[: -len(ext)]
    raise ValueError(f"{path}: not a PLINK .bed/.bim/.fam path")

