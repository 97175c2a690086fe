"""Cis windows: phenotype positions, the SNPs near each phenotype, groups of phenotypes.

Expression prediction models (PrediXcan, FUSION/TWAS) are usually trained on the
SNPs in a window around the gene. Positions come from a table in either of two
forms:

* a phenotype BED as QTLtools and tensorQTL write it (also gzipped): a header
  line starting ``#chr``, then ``chr``, ``start``, ``end`` (0-based, half-open:
  for a gene, ``start`` is the TSS and ``end = start + 1``) and the phenotype ID
  in the 4th column; any columns after (strand, the phenotype's values) are
  ignored;
* a TSV or CSV with a header naming the phenotype ID (``phenotype``,
  ``phenotype_id``, ``pid``, ``gene`` or ``gene_id``), the chromosome
  (``chromosome``, ``chrom`` or ``chr``) and the 1-based position (``position``
  or ``pos``; or ``start`` and ``end``, 1-based, inclusive).

A phenotype's window is every SNP of its chromosome with a base-pair position
from ``start - w`` to ``end + w`` (1-based, ``w`` = window in bp). Chromosome
names are compared without a ``chr`` prefix, X/Y/XY/MT also as PLINK's 23-26.
"""

import gzip

import numpy as np
import pandas as pd

ID_COLUMNS = ("phenotype", "phenotype_id", "pid", "gene", "gene_id", "id")
CHROM_COLUMNS = ("chromosome", "chrom", "chr")
POS_COLUMNS = ("position", "pos")
PLINK_CODES = {"X": "23", "Y": "24", "XY": "25", "MT": "26", "M": "26"}


class PositionError(ValueError):
    """A phenotype position table that cannot be read; the message names file and line."""


def normalise_chrom(name):
    """'chr22' -> '22', 'chrX' -> '23' (PLINK's code), '22' -> '22'."""
    s = str(name).strip()
    if s[:3].lower() == "chr":
        s = s[3:]
    s = s.upper()
    if s.isdigit():
        return str(int(s))
    return PLINK_CODES.get(s, s)


def _open(path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def read_positions(path):
    """Phenotype positions as a DataFrame indexed by phenotype ID with columns
    ``chrom`` (normalised), ``start`` and ``end`` (1-based, inclusive)."""
    with _open(path) as fh:
        header = fh.readline().rstrip("\r\n")
    if not header:
        raise PositionError(f"{path}: empty file; expected a phenotype BED or a position table")
    bed = header.startswith("#")
    sep = "\t" if ("\t" in header or bed) else ("," if "," in header else r"\s+")
    names = [c.strip() for c in (header.lstrip("#").split("\t") if sep == "\t" else
                                 header.split(",") if sep == "," else header.split())]
    lower = [c.lower() for c in names]
    if bed:
        if len(names) < 4:
            raise PositionError(f"{path}: a phenotype BED needs the columns chr, start, end and "
                                f"the phenotype ID; line 1 has {len(names)} columns")
        cols = [0, 1, 2, 3]
    else:
        def find(options, what):
            hit = [i for i, c in enumerate(lower) if c in options]
            if not hit:
                raise PositionError(f"{path}: no {what} column in line 1 (one of "
                                    f"{', '.join(options)}; found {', '.join(names)})")
            return hit[0]
        idc, chc = find(ID_COLUMNS, "phenotype ID"), find(CHROM_COLUMNS, "chromosome")
        if any(c in POS_COLUMNS for c in lower):
            pc = find(POS_COLUMNS, "position")
            cols = [chc, pc, pc, idc]
        else:
            cols = [chc, find(("start",), "position"), find(("end",), "end"), idc]
    table = pd.read_csv(path, sep=sep, header=None, skiprows=1, usecols=cols, dtype=str,
                        engine="python" if sep == r"\s+" else "c", keep_default_na=False)
    table = table[cols]
    table.columns = ["chrom", "start", "end", "id"]
    for col in ("start", "end"):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() | (values % 1 != 0) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise PositionError(f"{path}: line {row + 2}: {col} {table[col].iloc[row]!r} is not "
                                f"a base-pair position")
        table[col] = values.astype(np.int64)
    if bed:
        table["start"] += 1  # 0-based half-open -> 1-based inclusive
    if (table["end"] < table["start"]).any():
        row = int(np.flatnonzero((table["end"] < table["start"]).to_numpy())[0])
        raise PositionError(f"{path}: line {row + 2}: end before start")
    dup = table["id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise PositionError(f"{path}: line {row + 2}: phenotype {table['id'].iloc[row]!r} "
                            "listed twice")
    table["chrom"] = table["chrom"].map(normalise_chrom)
    return table.set_index("id")


NAME_COLUMNS = ("gene_name", "genename", "name", "symbol", "gene_symbol")
TYPE_COLUMNS = ("gene_type", "genetype", "gene_biotype", "biotype", "type")


def read_gene_names(path):
    """``genename`` and ``gene_type`` of each phenotype ID where the position file
    :func:`read_positions` reads has such columns (by header: gene_name, name, symbol;
    gene_type, gene_biotype, biotype, type), as a DataFrame indexed by ID; a column
    the file lacks is absent (the GEUVADIS BED has Ensembl IDs only)."""
    with _open(path) as fh:
        header = fh.readline().rstrip("\r\n")
    bed = header.startswith("#")
    sep = "\t" if ("\t" in header or bed) else ("," if "," in header else r"\s+")
    names = [c.strip() for c in (header.lstrip("#").split("\t") if sep == "\t" else
                                 header.split(",") if sep == "," else header.split())]
    lower = [c.lower() for c in names]
    idc = 3 if bed else next(i for i, c in enumerate(lower) if c in ID_COLUMNS)
    wanted = {}
    for out, options in (("genename", NAME_COLUMNS), ("gene_type", TYPE_COLUMNS)):
        hit = [i for i, c in enumerate(lower) if c in options and i != idc]
        if hit:
            wanted[out] = hit[0]
    table = pd.read_csv(path, sep=sep, header=None, skiprows=1, dtype=str,
                        usecols=[idc, *wanted.values()], keep_default_na=False,
                        engine="python" if sep == r"\s+" else "c")
    table = table[[idc, *wanted.values()]]
    table.columns = ["id", *wanted]
    return table.drop_duplicates("id").set_index("id")


def snp_positions(bim):
    """``(chromosomes, positions)`` of the .bim's SNPs (chromosome names normalised);
    ``bim`` as :func:`sparselmm.plink.read_bim` reads it."""
    return (bim["chrom"].astype(str).map(normalise_chrom).to_numpy(),
            bim["pos"].astype(np.int64).to_numpy())


def window_columns(snps, chrom, lo, hi):
    """Column indices (in .bim order) of the SNPs on ``chrom`` at ``lo <= bp <= hi``;
    ``snps`` from :func:`snp_positions`."""
    chroms, pos = snps
    return np.flatnonzero((chroms == normalise_chrom(chrom)) & (pos >= lo) & (pos <= hi))


def assign_groups(names, size, positions=None, bim=None, window_kb=None):
    """Phenotypes in groups of at most ``size`` for the grouped fit jobs.

    Without a window every phenotype uses every SNP and keeps its listed order.
    With ``window_kb`` the phenotypes are sorted by position (neighbours share
    most of their SNPs, so a group reads a short stretch of the genome) and a
    phenotype without a position or without any SNP in its window is left out.

    Returns ``(groups, skipped)``: a DataFrame with one row per phenotype kept
    (``phenotype``, ``group`` from 1, ``chrom``, ``window_start``, ``window_end``,
    ``n_snps``, ``snp_fraction`` of the fileset's SNPs) and a DataFrame of the
    phenotypes left out (``phenotype``, ``reason``).
    """
    if int(size) < 1:
        raise ValueError(f"group size must be at least 1, got {size}")
    rows, skipped = [], []
    total = max(len(bim), 1)
    if window_kb is None:
        rows = [dict(phenotype=p, chrom="", window_start=-1, window_end=-1, n_snps=len(bim))
                for p in names]
    else:
        w = int(round(float(window_kb) * 1000))
        snps = snp_positions(bim)
        for p in names:
            if p not in positions.index:
                skipped.append(dict(phenotype=p, reason="no position in the position table"))
                continue
            chrom, start, end = positions.loc[p, ["chrom", "start", "end"]]
            lo, hi = max(int(start) - w, 0), int(end) + w
            n = window_columns(snps, chrom, lo, hi).size
            if n == 0:
                skipped.append(dict(phenotype=p, reason=f"no SNP within {window_kb:g} kb "
                                                        f"(chromosome {chrom}:{lo}-{hi})"))
                continue
            rows.append(dict(phenotype=p, chrom=chrom, window_start=lo, window_end=hi,
                             n_snps=n, _key=(_chrom_key(chrom), int(start))))
        rows.sort(key=lambda r: r.pop("_key"))
    groups = pd.DataFrame(rows, columns=["phenotype", "chrom", "window_start", "window_end",
                                         "n_snps"])
    groups["snp_fraction"] = (groups["n_snps"] / total).round(6)
    groups.insert(1, "group", np.arange(len(groups)) // int(size) + 1)
    return groups, pd.DataFrame(skipped, columns=["phenotype", "reason"])


def _chrom_key(chrom):
    return (0, int(chrom), "") if chrom.isdigit() else (1, 0, chrom)


def group_columns(groups, read_bim):
    """``{phenotype: column indices}`` of each phenotype's window (None: every SNP);
    ``read_bim()`` gives the .bim table, read only when some phenotype has a window."""
    if not (groups["window_start"] >= 0).any():
        return {p: None for p in groups["phenotype"]}
    snps = snp_positions(read_bim())
    return {row.phenotype: None if row.window_start < 0 else
            window_columns(snps, row.chrom, row.window_start, row.window_end)
            for row in groups.itertuples()}
