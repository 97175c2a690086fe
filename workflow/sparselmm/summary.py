"""Results tables: the fits' metrics and timings collected, summaries per scenario or
phenotype with paired differences, phenotypes predicted per method, and how the
hybrid's E-step ended."""

import numpy as np
import pandas as pd

from .cv import BINARY_METRICS
from .methods import method_order
from .tables import read_results


def _stable_order(table):
    """Rows sorted by the labels that identify a fit (the same order on every run)."""
    keys = [c for c in ("phenotype", "n_causal", "h2", "replicate", "method", "fold")
            if c in table.columns]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


class FitFileError(ValueError):
    """A fit's metrics file that is not what its job writes; the message names it."""


# what every metrics file holds in every row (score_fit and the fit scripts)
REQUIRED = ("method", "fold", "r2", "r2_snp", "n_train", "n_test")
SIMULATION_KEYS = ("n_causal", "h2", "replicate")
REDO = "delete it and rerun the workflow to redo that fit"


def collect_metrics(paths, *, folds=None, groups=None):
    """The fits' metric files as one table, in a stable order, each file checked.

    Every file must have the header of the method's other files, every line as many
    fields as its header, and :data:`REQUIRED` (and ``phenotype`` or the scenario's labels)
    filled in every row; one method and one fold per file. ``groups``
    (``{phenotype: group}``, real data) asks that each file hold exactly the
    phenotypes of its group; ``folds`` (the number of CV folds), that every phenotype
    or simulated data set x method have each fold once. Any failure is a
    :class:`FitFileError` naming the file (and line), never a partial table.
    """
    frames, headers = [], {}
    for path in paths:
        frame = _checked_fit_file(path, headers)
        if groups is not None:
            _check_group(frame, path, groups)
        frames.append(frame.assign(_source=str(path)))
    table = pd.concat(frames, ignore_index=True)
    if folds is not None:
        _check_folds(table, folds)
    return _stable_order(table.drop(columns="_source"))


def _checked_fit_file(path, headers):
    with open(path) as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        raise FitFileError(f"{path}: no fit results in it (a job killed while writing it?); "
                           f"{REDO}")
    names = lines[0].split("\t")
    for number, line in enumerate(lines[1:], start=2):
        if len(line.split("\t")) != len(names):
            raise FitFileError(f"{path}, line {number}: {len(line.split(chr(9)))} fields for "
                               f"{len(names)} columns (a file cut short?); {REDO}")
    frame = read_results(path)
    keys = ["phenotype"] if "phenotype" in frame.columns else list(SIMULATION_KEYS)
    absent = [c for c in (*keys, *REQUIRED) if c not in frame.columns]
    if absent:
        raise FitFileError(f"{path}: no column {', '.join(absent)}; {REDO}")
    for column in (*keys, *REQUIRED):
        empty = np.flatnonzero(frame[column].isna().to_numpy() | (frame[column] == ""))
        if empty.size:
            raise FitFileError(f"{path}, line {empty[0] + 2}: no value of {column!r}; {REDO}")
    for column in ("method", "fold"):
        if frame[column].nunique() != 1:
            raise FitFileError(f"{path}: rows of several {column}s "
                               f"({', '.join(map(str, frame[column].unique()))}); {REDO}")
    # binary phenotypes' metrics: only in the files of groups that hold one
    names = [c for c in names if c not in BINARY_METRICS]
    header = headers.setdefault(frame["method"].iloc[0], names)
    if names != header:
        raise FitFileError(f"{path}: columns {names} differ from the method's other fits' "
                           f"{header}; {REDO}")
    return frame


def _check_group(frame, path, groups):
    """The phenotypes of ``frame`` (one fit file) are those of one whole group."""
    unknown = sorted(set(frame["phenotype"]) - set(groups))
    if unknown:
        raise FitFileError(f"{path}: phenotype {unknown[0]!r} is in no group of this run "
                           f"(a file of an earlier run?); {REDO}")
    group = groups[frame["phenotype"].iloc[0]]
    wanted = {name for name, g in groups.items() if g == group}
    missing = sorted(wanted - set(frame["phenotype"]))
    if missing or len(frame) != len(wanted):
        what = f"lacks {', '.join(missing[:3])}" if missing else "repeats phenotypes"
        raise FitFileError(f"{path}: {len(frame)} rows for the {len(wanted)} phenotypes of "
                           f"group {group}; it {what}; {REDO}")


def _check_folds(table, folds):
    """Every phenotype (or simulated data set) x method has folds 0 .. folds-1 once."""
    keys = ["phenotype"] if "phenotype" in table.columns else list(SIMULATION_KEYS)
    for key, block in table.groupby([*keys, "method"], sort=True):
        seen = block["fold"].astype(int).tolist()
        if sorted(seen) != list(range(folds)):
            label = ", ".join(f"{k}={v}" for k, v in zip([*keys, "method"], key))
            repeated = block.loc[block["fold"].duplicated(keep=False), "_source"]
            where = f" (in {', '.join(sorted(set(repeated)))})" if len(repeated) else ""
            raise FitFileError(f"{label}: folds {sorted(seen)}, not 0..{folds - 1}{where}; "
                               f"{REDO}")


PANEL = "(panel mean)"


def summarise(table, baseline="sparselmm", metric="r2_snp"):
    """Mean accuracy per scenario (or phenotype) and method, with standard errors,
    and the paired difference from ``baseline``.

    The unit of replication is the simulated data set when there are several
    (its fold mean is one observation), else the cross-validation fold.
    ``se`` is the standard error of the mean over units; ``diff`` the mean of
    the unit-wise ``method - baseline`` differences and ``se_diff`` its
    standard error (paired: the methods saw the same data and folds). Without
    ``baseline`` among the methods the two columns are left empty. Real data
    get a last block, ``phenotype == "(panel mean)"``, whose units are the
    phenotypes' fold means.
    """
    group = ["n_causal", "h2"] if "n_causal" in table.columns else ["phenotype"]
    by_rep = "replicate" in table.columns and table["replicate"].nunique() > 1
    unit = "replicate" if by_rep else "fold"
    per_unit = table.groupby(group + [unit, "method"], sort=True)[metric].mean().unstack("method")
    blocks = [(key, block, unit) for key, block in per_unit.groupby(level=group, sort=True)]
    if group == ["phenotype"]:
        # real data: also the panel as a whole, one unit per phenotype
        blocks.append((PANEL, per_unit.groupby(level="phenotype").mean(), "phenotype"))
    rows = []
    for key, block, unit in blocks:
        key = key if isinstance(key, tuple) else (key,)
        order = method_order(block.columns)
        for method in order:
            values = block[method].dropna()
            row = dict(zip(group, key), method=method,
                       units=f"{len(values)} {unit}s",
                       mean=values.mean(), se=_se(values))
            if baseline in block.columns:
                diff = (block[method] - block[baseline]).dropna()
                row.update(diff=diff.mean(), se_diff=_se(diff))
            else:
                row.update(diff=np.nan, se_diff=np.nan)
            rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(len(group) + 1, "metric", metric)
    return out


def summarise_all(table, baseline="sparselmm"):
    """:func:`summarise` of ``r2_snp`` and, for the binary phenotypes (rows with an
    AUC), of ``auc`` and ``r2_liability`` too: one block per metric (column
    ``metric``), each over the phenotypes that have it."""
    blocks = [summarise(table, baseline, "r2_snp")]
    if "auc" in table.columns and table["auc"].notna().any():
        binary = table[table["auc"].notna()]
        blocks += [summarise(binary, baseline, m) for m in ("auc", "r2_liability")]
    return pd.concat(blocks, ignore_index=True)


def predicted_counts(table, thresholds=(0.05, 0.1), baseline="sparselmm", metric="r2_snp"):
    """How many phenotypes each method predicts: per method, the phenotypes whose
    CV-mean ``metric`` exceeds each threshold (``n_above_T``) and the mean of
    ``metric`` over them (``mean_above_T``); ``best``, the phenotypes on which the
    method has the highest mean (ties to the first in the registry's order);
    ``better_than_baseline`` / ``worse_than_baseline``, phenotypes above / below
    ``baseline``; and ``diff`` / ``se_diff``, the paired mean difference from
    ``baseline`` over all phenotypes and its standard error."""
    means = table.groupby(["phenotype", "method"])[metric].mean().unstack("method")
    order = method_order(means.columns)
    means = means[order]
    best = means.idxmax(axis=1).value_counts()
    rows = []
    for m in order:
        v = means[m].dropna()
        row = {"method": m, "metric": metric, "phenotypes": len(v), "mean": v.mean(),
               "se": _se(v), "best": int(best.get(m, 0))}
        for t in thresholds:
            above = v[v > t]
            row[f"n_above_{t:g}"] = len(above)
            row[f"mean_above_{t:g}"] = above.mean() if len(above) else np.nan
        if baseline in means.columns:
            d = (means[m] - means[baseline]).dropna()
            row.update(better_than_baseline=int((d > 0).sum()),
                       worse_than_baseline=int((d < 0).sum()), diff=d.mean(), se_diff=_se(d))
        rows.append(row)
    return pd.DataFrame(rows)


def auto_choices(table):
    """Which method ``auto`` chose (column ``chosen`` of its fits), per scenario or
    phenotype and over all of them (``(all)``): the folds each candidate was chosen
    in and their share."""
    rows = table[table["method"] == "auto"]
    if rows.empty or "chosen" not in rows.columns:
        raise ValueError("no fit of the method auto in the table")
    group = ["n_causal", "h2"] if "n_causal" in rows.columns else ["phenotype"]
    counts = rows.groupby(group + ["chosen"], sort=True).size().rename("folds").reset_index()
    counts["share"] = counts["folds"] / counts.groupby(group)["folds"].transform("sum")
    overall = rows.groupby("chosen").size().rename("folds").reset_index()
    overall["share"] = overall["folds"] / overall["folds"].sum()
    for key in group:
        overall.insert(0, key, "(all)") if key == group[0] else overall.insert(1, key, "")
    return pd.concat([counts, overall[counts.columns]], ignore_index=True)


def hybrid_status(table, damping=0.8):
    """How the hybrid's EM-VAMP E-step (``inference: vamp``) ended, per scenario (or
    phenotype): fits, converged fits, fits by VAMP at the configured ``damping``, by
    VAMP with more damping (restarted after diverging or stalling; the smallest
    damping used), and fits that fell back to mean field (VAMP diverged at every
    damping; the fit warned)."""
    columns = ["fits", "converged", "vamp_configured_damping", "vamp_more_damping",
               "min_damping", "mean_field_fallback"]
    hy = table[table["method"] == "hybrid"]
    group = ["n_causal", "h2"] if "n_causal" in table.columns else ["phenotype"]
    if hy.empty or "inference" not in hy.columns:
        return pd.DataFrame(columns=group + columns)
    top = float(damping) - 1e-12
    rows = []
    for key, b in hy.groupby(group, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        vamp = b[b["inference"] == "vamp"]
        rows.append({**dict(zip(group, key)), "fits": len(b),
                     "converged": int(b["converged"].astype(bool).sum()),
                     "vamp_configured_damping": int((vamp["damping"] >= top).sum()),
                     "vamp_more_damping": int((vamp["damping"] < top).sum()),
                     "min_damping": vamp["damping"].min() if len(vamp) else np.nan,
                     "mean_field_fallback": int((b["inference"] == "mean_field").sum())})
    return pd.DataFrame(rows)


def _se(values):
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan


def collect_timings(timings, benchmarks):
    """One row per fit: its labels, the fit's own wall time and Snakemake's job record.

    ``timings`` are the fit scripts' timing files (labels, ``fit_seconds`` and
    ``max_rss_mb``, the process's peak resident memory from getrusage; a grouped
    real-data job writes one row per phenotype), ``benchmarks`` the matching
    Snakemake benchmark TSVs, in the same order. ``job_seconds`` (whole job:
    start-up, reading genotypes, every fit of the job) and ``job_fits`` (fits in
    that job) come from them. Snakemake samples memory and misses sub-second jobs,
    so its ``max_rss`` is used only for a timing file written before the fit
    script recorded its own.
    """
    if len(timings) != len(benchmarks):
        raise ValueError(f"{len(timings)} timing files but {len(benchmarks)} benchmark files")
    parts = []
    for t, b in zip(timings, benchmarks):
        rows = read_results(t)
        bench = pd.read_csv(b, sep="\t")
        for col in ("s", "max_rss"):
            if col not in bench.columns or bench.empty:
                raise ValueError(f"{b}: not a Snakemake benchmark file (no {col!r} column)")
        rows["job_seconds"] = float(bench["s"].iloc[0])
        rows["job_fits"] = len(rows)
        if "max_rss_mb" not in rows.columns:
            rows["max_rss_mb"] = np.nan
        rows["max_rss_mb"] = rows["max_rss_mb"].fillna(
            pd.to_numeric(bench["max_rss"], errors="coerce").iloc[0])
        parts.append(rows)
    return _stable_order(pd.concat(parts, ignore_index=True))
