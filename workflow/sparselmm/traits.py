"""Binary (case-control) phenotypes: how they are recognised and coded.

A binary phenotype is coded 0 (control) / 1 (case) and never transformed. With
``binary="auto"`` a column is binary when its values are 0 and 1 only, or PLINK's
case-control coding: 1 (control) and 2 (case), with 0 and -9 missing. A list of
names declares exactly those phenotypes binary (each must be coded one of these
ways); the others are quantitative.
"""

import numpy as np


def binary_codes(values, name="phenotype", source="phenotype table", declared=False):
    """``values`` (floats, NaN missing) as 0 (control) / 1 (case) with NaN missing, or
    None when they are not a binary coding (module docstring).

    ``declared``: the phenotype was declared binary in the config, so a coding that
    is not binary, or a phenotype of one class only, is an error naming it.
    """
    v = np.asarray(values, dtype=float)
    seen = set(np.unique(v[~np.isnan(v)]).tolist())
    if seen == {0.0, 1.0}:
        return v.copy()
    if {1.0, 2.0} <= seen <= {-9.0, 0.0, 1.0, 2.0}:  # PLINK: 1 control, 2 case, 0/-9 missing
        return np.where((v == 0) | (v == -9), np.nan, v - 1.0)
    if not declared:
        return None
    shown = ", ".join(f"{x:g}" for x in sorted(seen)[:5]) + (" ..." if len(seen) > 5 else "")
    if seen <= {-9.0, 0.0, 1.0, 2.0}:
        raise ValueError(f"{source}: binary phenotype {name!r} has one class only (values "
                         f"{shown or 'none'}); nothing to predict")
    raise ValueError(f"{source}: phenotype {name!r} is declared binary "
                     f"(realdata.binary_phenotypes) but holds {shown}; a binary phenotype "
                     f"is coded 0/1, or 1 = control / 2 = case with 0 and -9 missing (PLINK)")


def code_phenotypes(pheno, binary="auto", source="phenotype table"):
    """The phenotype table with its binary columns recoded 0/1 (:func:`binary_codes`)
    and the set of their names.

    ``binary``: ``"auto"`` (recognise each column by its values), or a list of the
    phenotypes that are binary (any others are quantitative); names absent from the
    table are not checked here.
    """
    out = pheno.copy()
    names = set()
    for column in pheno.columns:
        declared = binary != "auto" and column in set(binary)
        if binary != "auto" and not declared:
            continue
        coded = binary_codes(pheno[column].to_numpy(dtype=float), column, source, declared)
        if coded is not None:
            out[column] = coded
            names.add(column)
    return out, names


def prevalence_of(prevalence, phenotype):
    """The population prevalence of a binary ``phenotype`` from the config's
    ``realdata.prevalence`` (None, a number, or ``{phenotype: number}``); None: use
    the sample's case fraction."""
    if isinstance(prevalence, dict):
        prevalence = prevalence.get(phenotype)
    return None if prevalence is None else float(prevalence)
