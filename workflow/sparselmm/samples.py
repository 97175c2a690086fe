"""Which samples a fit uses, and the phenotype transform.

A fit of one phenotype uses the samples that are genotyped (the .fam), have the
phenotype, have every covariate (where there are covariates) and belong to the
fold table (where given), in .fam order. Tables are matched by sample key (see
:mod:`sparselmm.tables`).
Binary phenotypes (:mod:`sparselmm.traits`) are coded 0/1 and never transformed.
"""

import numpy as np
import pandas as pd

from . import plink
from .tables import read_table
from .traits import code_phenotypes


def rank_inverse_normal(y):
    """Blom's rank-based inverse normal transform (average ranks for ties)."""
    from scipy.stats import norm, rankdata

    y = np.asarray(y, dtype=float)
    return norm.ppf((rankdata(y) - 0.375) / (y.size + 0.25))


TRANSFORMS = {"none": None, "rank_inverse_normal": rank_inverse_normal}


def fit_samples(fam, pheno, phenotype, cov_tab=None, transform="none", within=None,
                source="phenotype table", binary=()):
    """The samples a fit of ``phenotype`` uses, from tables already read.

    ``fam``: sample keys in .fam order; ``pheno``, ``cov_tab``: DataFrames indexed by
    sample key; ``within``: the keys allowed (a fold table's), or None.

    Returns ``(ids, rows, y, Z)``: sample keys, their .fam rows, the phenotype
    (transformed: the transform sees the phenotype values only, never the genotypes;
    phenotypes in ``binary``, already coded 0/1 by :func:`code_phenotypes`, are not)
    and the covariate matrix (None without covariates).
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown phenotype transform {transform!r}; choose from "
                         f"{', '.join(TRANSFORMS)}")
    if phenotype not in pheno.columns:
        raise ValueError(f"{source}: no phenotype column {phenotype!r} "
                         f"(columns: {', '.join(map(str, pheno.columns))})")
    y_all = pheno[phenotype]
    ids = [i for i in fam if i in y_all.index and pd.notna(y_all[i])
           and (within is None or i in within)]
    cov = None
    if cov_tab is not None:
        ids = [i for i in ids if i in cov_tab.index]
        cov = cov_tab.loc[ids].to_numpy(dtype=float)
    pos = {iid: k for k, iid in enumerate(fam)}
    rows = np.array([pos[i] for i in ids], dtype=np.int64)
    y = y_all.loc[ids].to_numpy(dtype=float)
    if TRANSFORMS[transform] is not None and phenotype not in binary:
        y = TRANSFORMS[transform](y)
    return ids, rows, y, cov


class SampleTables:
    """The files :func:`fit_samples` reads (the PLINK prefix ``bed``'s .fam, the
    phenotype table, the covariate table or None), read once; called with a phenotype
    (and ``transform``, ``within``), it gives that phenotype's :func:`fit_samples`.
    For the jobs that take many phenotypes' samples in turn. ``binary``: as
    :func:`code_phenotypes`; ``self.binary`` is the set of binary phenotypes."""

    def __init__(self, bed, phenotypes, covariates=None, binary="auto"):
        self.fam = plink.read_samples(bed)
        self.pheno, self.binary = code_phenotypes(read_table(phenotypes, "phenotype"), binary,
                                                  phenotypes)
        self.covariates = None if covariates is None else read_table(covariates, "covariate")
        self.source = phenotypes

    def __call__(self, phenotype, transform="none", within=None):
        return fit_samples(self.fam, self.pheno, phenotype, self.covariates, transform,
                           within, source=self.source, binary=self.binary)


def phenotype_samples(bed, phenotypes, phenotype, covariates=None, transform="none",
                      within=None, binary="auto"):
    """:func:`fit_samples` from the files: the PLINK prefix ``bed``, the phenotype
    table and the covariate table (None: no covariates)."""
    return SampleTables(bed, phenotypes, covariates, binary)(phenotype, transform, within)
