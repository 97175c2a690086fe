"""Reading and checking the user's sample tables: formats, sample IDs, missing values.

Two layouts are accepted for phenotype and covariate tables; the header line says which:

* **delimited** (today's format): tab- or comma-separated with a header holding an
  ``iid`` column (and optionally ``fid``), one column per phenotype or covariate;
  missing cells: empty, ``NA``, ``NaN``, ``N/A``, ``NULL``, ``.``.
* **PLINK-style**: whitespace-separated (where the header is tab-separated, by tabs,
  so that an empty cell is missing), the header starting ``FID IID`` (PLINK 1
  ``--pheno``/``--covar`` files with a header line), ``#FID IID`` or ``#IID``
  (PLINK 2 ``.psam``/``.pheno``/``.cov``); ``-9`` is missing as well, as in PLINK;
  the ``.psam`` columns ``PAT`` and ``MAT`` (parents' IDs) are not data, and ``SEX``
  is not read as a phenotype (it may be used as a covariate).

Samples are matched with the genotypes' .fam by IID; where the .fam repeats an IID
across families (family data sets), by the pair (FID, IID), which the table must
then give. Internally such a sample is keyed ``"FID IID"`` (a space cannot occur in
PLINK IDs, so keys never collide). A table's FID, where given, must agree with the
.fam's for every sample it shares with it.

Every error names the file and, where it applies, the line, column or sample.
"""

import sys

import numpy as np
import pandas as pd

from .outputs import write_tsv
from .traits import code_phenotypes

# cells read as missing in value columns (never in ID or name columns, so a
# sample "NA" or a phenotype called "null" stays what it is)
MISSING = ["", "NA", "NaN", "nan", "N/A", "NULL", "null", "."]
PLINK_MISSING = MISSING + ["-9", "-9.0"]
PSAM_METADATA = ("PAT", "MAT")  # parents' IDs in a .psam, never data
NOT_PHENOTYPES = ("SEX",)  # a .psam column that is not a phenotype (it may be a covariate)
EXPECTED = ("a header line with an 'iid' column (tab- or comma-separated), or a PLINK-style "
            "header 'FID IID ...', '#FID IID ...' or '#IID ...' (whitespace-separated)")


class TableError(ValueError):
    """A user table that cannot be read as documented; the message names the file."""


def _first_line(path):
    try:
        with open(path, encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    return lineno, line.rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise TableError(f"{path}: not a text table ({err.reason} at byte {err.start})") from None
    raise TableError(f"{path}: the file is empty; expected {EXPECTED}")


def _split(line, sep):
    return line.split() if sep is None else [f.strip() for f in line.split(sep)]


def layout(path):
    """``(kind, sep, header, header_line)`` of a table: kind ``"plink"`` (``sep``
    None: any whitespace) or ``"delimited"`` (``sep`` a tab or a comma)."""
    lineno, line = _first_line(path)
    hashed = line.startswith("#")
    words = line.lstrip("#").split()
    upper = [w.upper() for w in words]
    if upper[:2] == ["FID", "IID"] or (hashed and upper[:1] == ["IID"]):
        # tab-separated (PLINK 2 writes tabs): split on tabs, so that an empty cell is
        # a missing value rather than a shifted row
        body = line.lstrip("#").strip(" ")
        if "\t" in body and " " not in body:
            return "plink", "\t", _split(body, "\t"), lineno
        return "plink", None, words, lineno
    for sep in ("\t", ","):
        fields = _split(line, sep)
        if "iid" in fields:
            return "delimited", sep, fields, lineno
    raise TableError(f"{path}, line {lineno}: expected {EXPECTED}; found {line[:80]!r}")


def _id_columns(kind, header):
    if kind == "plink":
        return [c for c in header[:2] if c.upper() in ("FID", "IID")]
    return [c for c in header if c in ("fid", "iid")]


def _value_columns(kind, header, what):
    ids = _id_columns(kind, header)
    skip = set() if kind == "delimited" else {*PSAM_METADATA,
                                               *(NOT_PHENOTYPES if what == "phenotype" else ())}
    return [c for c in header if c not in ids and c.upper() not in skip]


def value_columns(path, what="phenotype"):
    """The data columns a table offers (ID and metadata columns left out)."""
    kind, _, header, _ = layout(path)
    return _value_columns(kind, header, what)


def read_sample_table(path, what="phenotype", columns=None):
    """A user table as read: a DataFrame with ``fid`` (None where the table has no
    FID) and ``iid`` as strings and the value columns as floats (missing: NaN).

    ``columns``: the value columns to keep and check (default: all of them). A line
    with the wrong number of fields, a value that is not a number or a sample given
    twice is an error naming the line (and column and sample).
    """
    kind, sep, header, first = layout(path)
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise TableError(f"{path}, line {first}: column {dup[0]!r} appears twice in the header")
    ids = _id_columns(kind, header)
    offered = _value_columns(kind, header, what)
    data = offered if columns is None else list(columns)
    absent = [c for c in data if c not in header]
    if absent:
        raise TableError(f"{path}: no {what} column {absent[0]!r} (columns: "
                         f"{', '.join(offered)})")
    missing = set(PLINK_MISSING if kind == "plink" else MISSING)
    where = {c: header.index(c) for c in ids + data}
    lines, rows = [], []
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno <= first or not line.strip():
                continue
            fields = _split(line.rstrip("\r\n"), sep)
            if len(fields) != len(header):
                raise TableError(f"{path}, line {lineno}: {len(fields)} fields where the header "
                                 f"has {len(header)}")
            lines.append(lineno)
            rows.append([fields[where[c]] for c in ids + data])
    if not rows:
        raise TableError(f"{path}: a header but no samples")
    raw = pd.DataFrame(rows, columns=ids + data, dtype=str)
    fid = next((c for c in ids if c.upper() == "FID"), None)
    iid = next(c for c in ids if c.upper() == "IID")
    out = pd.DataFrame({"fid": raw[fid] if fid else None, "iid": raw[iid]})
    for col in data:
        cells = raw[col]
        gap = cells.isin(missing)
        values = pd.to_numeric(cells.where(~gap), errors="coerce")
        bad = values.isna() & ~gap
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise TableError(f"{path}, line {lines[k]}: non-numeric {what} value "
                             f"{cells.iloc[k]!r} in column {col!r} for sample {out.iid.iloc[k]!r}")
        out[col] = values.astype(float).to_numpy()
    keys = out["iid"] if fid is None else out["fid"] + " " + out["iid"]
    dup = np.flatnonzero(keys.duplicated().to_numpy())
    if len(dup):
        k = int(dup[0])
        raise TableError(f"{path}, line {lines[k]}: sample {keys.iloc[k]!r} appears twice in "
                         f"the {what} table")
    return out


class Samples:
    """The .fam's samples: FID, IID and the key each is matched by."""

    def __init__(self, fids, iids, path=".fam"):
        self.fids = [str(f) for f in fids]
        self.iids = [str(i) for i in iids]
        self.path = str(path)
        counts = pd.Series(self.iids).value_counts()
        self.repeated = list(counts.index[counts > 1])
        self.by_pair = bool(self.repeated)
        self.keys = sample_keys(self.fids, self.iids)
        self.fid_of = dict(zip(self.iids, self.fids)) if not self.by_pair else None


def sample_keys(fids, iids):
    """IIDs when they are unique, else ``"FID IID"`` for every sample."""
    iids = [str(i) for i in iids]
    if len(set(iids)) == len(iids):
        return iids
    return [f"{f} {i}" for f, i in zip(fids, iids)]


def align(table, samples, path, what="phenotype", log=sys.stderr):
    """Key a table read by :func:`read_sample_table` like the .fam; rows of samples
    not in the .fam are left out (counted in ``log``). Returns a DataFrame indexed
    by the sample key (``iid``), in the table's order."""
    has_fid = table["fid"].notna().all()
    if samples.by_pair:
        if not has_fid:
            rep = samples.repeated[0]
            fams = [f for f, i in zip(samples.fids, samples.iids) if i == rep]
            raise TableError(
                f"{path}: the genotypes' {samples.path} repeats IID {rep!r} (families "
                f"{', '.join(map(repr, fams[:3]))}), so samples are matched on FID and IID; "
                f"this {what} table has no FID column (use 'fid' + 'iid' columns, or a "
                f"PLINK-style 'FID IID' header)")
        keys = table["fid"] + " " + table["iid"]
    else:
        if has_fid:
            known = table["iid"].map(samples.fid_of)
            wrong = known.notna() & (known != table["fid"])
            if wrong.any():
                row = int(np.flatnonzero(wrong.to_numpy())[0])
                raise TableError(
                    f"{path}: sample {table['iid'].iloc[row]!r} has FID "
                    f"{table['fid'].iloc[row]!r} here but {known.iloc[row]!r} in "
                    f"{samples.path}")
        keys = table["iid"]
    out = table.drop(columns=["fid", "iid"])
    out.index = pd.Index(keys.to_numpy(), name="iid")
    inside = out.index.isin(samples.keys)
    if not inside.any():
        raise TableError(f"{path}: no sample ID in common with {samples.path} (first IDs: "
                         f"table {list(out.index[:3])}, .fam {samples.keys[:3]})")
    if not inside.all():
        print(f"{path}: {int((~inside).sum())} of {len(out)} samples are not in "
              f"{samples.path} and are left out (first: {out.index[~inside][0]!r})", file=log)
    return out[inside]


def drop_incomplete(table, path, what="covariate", log=sys.stderr):
    """Leave out the samples with a missing value in any column, saying how many
    per column in ``log`` (the policy for covariates, as for a missing phenotype)."""
    gaps = table.isna()
    if not gaps.any().any():
        return table
    for col in table.columns[gaps.any()]:
        ids = list(table.index[gaps[col]])
        print(f"{path}: column {col!r}: {len(ids)} sample(s) with a missing {what} value left "
              f"out (first: {', '.join(map(repr, ids[:3]))})", file=log)
    keep = ~gaps.any(axis=1)
    print(f"{path}: {int((~keep).sum())} sample(s) left out for a missing {what}; "
          f"{int(keep.sum())} kept", file=log)
    return table[keep]


def redundant_columns(Z, names, first_user, rel_tol=1e-8):
    """Columns of ``[1, Z]`` that add nothing to the columns before them.

    Returns ``[(name, reason)]`` for the columns from ``first_user`` on (the earlier
    ones, the genotype PCs, are kept as they are): a constant column is covered by
    the intercept; a column within ``rel_tol`` (relative norm of its residual) of the
    span of the kept columns before it is a linear combination of them, named by
    their nonzero least-squares coefficients. Dropping such columns leaves the span
    of the covariates, and so every fit and prediction, unchanged.
    """
    n = Z.shape[0]
    kept_names, kept = ["the intercept"], [np.ones(n)]
    kept += [Z[:, j] for j in range(first_user)]
    kept_names += list(names[:first_user])
    out = []
    for j in range(first_user, Z.shape[1]):
        z = Z[:, j]
        centred = z - z.mean()
        if np.linalg.norm(centred) <= rel_tol * max(np.linalg.norm(z), 1e-300):
            out.append((names[j], f"constant ({z[0]:g})"))
            continue
        A = np.column_stack(kept)
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
        resid = z - A @ coef
        if np.linalg.norm(resid) <= rel_tol * np.linalg.norm(centred) * 1e3:
            scale = np.abs(coef) * np.linalg.norm(A, axis=0)
            parts = [kept_names[k] for k in np.flatnonzero(scale > 1e-6 * scale.max())]
            parts = [p if p == "the intercept" else repr(p) for p in parts]
            out.append((names[j], "a linear combination of " + ", ".join(parts)))
            continue
        kept.append(z)
        kept_names.append(names[j])
    return out


# -- the workflow's steps on user tables -------------------------------------------
MIN_SAMPLES_PER_FOLD = 2


def prepare_phenotypes(path, samples, requested, folds, out_tsv, log=sys.stderr,
                       binary="auto", binary_only=()):
    """Check the user's phenotype table against the .fam and write the phenotypes to
    analyse as a TSV keyed by the sample key (``iid``), in .fam order; return their
    names. Errors name the file and the phenotype, column, line or sample.

    Binary phenotypes (``binary``: :func:`sparselmm.traits.code_phenotypes`) are
    written coded 0 (control) / 1 (case), PLINK's 0 missing; the log gives their cases
    and controls. ``binary_only``: methods that fit binary phenotypes only (logistic
    models); a quantitative phenotype among ``requested`` is then an error."""
    offered = value_columns(path)
    names = offered if requested == "all" else [str(r) for r in requested]
    absent = [c for c in names if c not in offered]
    if absent:
        raise TableError(f"{path}: phenotype(s) {', '.join(absent)} listed in config.yaml "
                         f"are not columns of the table (columns: {', '.join(offered[:10])})")
    if not names:
        raise TableError(f"{path}: no phenotype column besides the sample IDs")
    table = align(read_sample_table(path, "phenotype", names), samples, path, "phenotype", log)
    order = [k for k in samples.keys if k in table.index]
    table, binary = code_phenotypes(table.loc[order], binary, path)
    quantitative = [c for c in names if c not in binary]
    if binary_only and quantitative:
        raise TableError(f"config.yaml methods: {', '.join(binary_only)} fit binary "
                         f"(case-control) phenotypes only, and {path} has quantitative "
                         f"ones among those listed: {', '.join(quantitative[:5])}; a binary "
                         f"phenotype is coded 0/1, or 1 = control / 2 = case (PLINK)")
    for name in names:
        y = table[name].dropna()
        if name in binary:
            print(f"{path}: phenotype {name!r} is binary: {int(y.sum())} cases, "
                  f"{int((y == 0).sum())} controls (fitted as 0/1, not transformed)", file=log)
        if y.empty:
            raise TableError(f"{path}: phenotype {name!r} is missing for every genotyped sample")
        if y.nunique() < 2:
            raise TableError(f"{path}: phenotype {name!r} is constant ({y.iloc[0]:g})")
        if len(y) < MIN_SAMPLES_PER_FOLD * folds:
            raise TableError(f"{path}: phenotype {name!r} has {len(y)} genotyped samples, too "
                             f"few for {folds}-fold cross-validation")
        if len(y) < len(table):
            print(f"{path}: phenotype {name!r}: {len(table) - len(y)} genotyped sample(s) with "
                  f"a missing value left out of its fits", file=log)
    write_tsv(table, out_tsv, index=True)
    print(f"{path}: {len(names)} phenotype(s), {len(table)} genotyped samples", file=log)
    return names


def user_covariates(path, samples, log=sys.stderr):
    """The user's covariate table keyed like the .fam, complete samples only (a
    sample with a missing covariate value is left out of every fit, as a sample
    with a missing phenotype is left out of that phenotype's)."""
    table = align(read_sample_table(path, "covariate"), samples, path, "covariate", log)
    if table.shape[1] == 0:
        raise TableError(f"{path}: no covariate column besides the sample IDs")
    return drop_incomplete(table, path, "covariate", log)


# -- the workflow's own tables ----------------------------------------------------------
# (written by the workflow: tab-separated, a header line, no PLINK layout)
def _read_tsv(path, text_columns):
    with open(path) as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    return pd.read_csv(path, sep="\t", dtype={c: str for c in text_columns if c in header},
                       keep_default_na=False,
                       na_values={c: MISSING for c in header if c not in text_columns})


def read_table(path, what):
    """A table of the workflow keyed by ``iid`` (read as strings; the checked phenotype
    table, the covariates, the folds), with a clear error if malformed."""
    df = _read_tsv(path, ["iid"])
    if "iid" not in df.columns:
        raise ValueError(f"{path}: {what} table needs an 'iid' column, found {list(df.columns)}")
    dup = df["iid"][df["iid"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: duplicate sample ID {dup.iloc[0]!r} in the {what} table")
    return df.set_index("iid")


def read_results(path):
    """A results table (metrics, timings) or a fit job's (predictions, inner-CV
    errors), keeping phenotype names such as "NA" and sample IDs as text."""
    return _read_tsv(path, ["phenotype", "method", "iid"])

