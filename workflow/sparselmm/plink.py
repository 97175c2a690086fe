"""PLINK 1 binary filesets (.bed/.bim/.fam) through bed-reader, kept int8."""

from pathlib import Path

import numpy as np
import pandas as pd
from bed_reader import open_bed, to_bed

from ._kernels import PackedBed
from .tables import Samples, sample_keys


def write_bed_props(prefix, genotypes, properties):
    """Write int8 dosages with bed-reader metadata (fid, iid, sid, ...)."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    to_bed(str(prefix) + ".bed", np.asarray(genotypes, dtype=np.int8),
           properties={k: list(v) for k, v in properties.items()})


def write_bed(prefix, genotypes, iids, sids, *, chromosome="1", positions=None):
    """Write an int8 dosage matrix (samples x SNPs, -127 = missing)."""
    p = genotypes.shape[1]
    positions = np.arange(1, p + 1) if positions is None else positions
    props = {
        "fid": list(iids),
        "iid": list(iids),
        "sid": list(sids),
        "chromosome": [chromosome] * p,
        "bp_position": list(positions),
        "allele_1": ["A"] * p,
        "allele_2": ["G"] * p,
    }
    write_bed_props(prefix, genotypes, props)


def fileset(prefix):
    prefix = str(prefix)
    if prefix.endswith(".bed"):
        prefix = prefix[:-4]
    files = {ext: Path(prefix + "." + ext) for ext in ("bed", "bim", "fam")}
    missing = [str(f) for f in files.values() if not f.exists()]
    if missing:
        raise FileNotFoundError(f"PLINK fileset {prefix}: missing {', '.join(missing)}")
    return files


def _ids(path, columns, what):
    """Whitespace-separated columns of a .fam/.bim (joined by a space), checking
    field counts and that the IDs are unique."""
    want = 6
    ids = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != want:
                raise ValueError(f"{path}, line {lineno}: expected {want} fields, "
                                 f"found {len(fields)}")
            ids.append(" ".join(fields[c] for c in columns))
    seen = set()
    for lineno, i in enumerate(ids, 1):
        if i in seen:
            raise ValueError(f"{path}: duplicate {what} {i!r} (line {lineno})")
        seen.add(i)
    return ids


def check_fileset(prefix, all_snps=False):
    """Validate a fileset before use: magic bytes, size against .fam/.bim, unique IDs,
    and the padding bits of each SNP's last byte (on a sample of SNPs; every SNP with
    ``all_snps``), which catch a .fam that is a few lines short.

    Returns ``(n_samples, n_snps)``.
    """
    files = fileset(prefix)
    # family data sets may repeat an IID across families: (FID, IID) must be unique
    iids = _ids(files["fam"], (0, 1), "sample (FID IID)")
    sids = _ids(files["bim"], (1,), "SNP ID")
    n, p = len(iids), len(sids)
    if n == 0 or p == 0:
        raise ValueError(f"{files['fam'] if n == 0 else files['bim']} is empty")
    with open(files["bed"], "rb") as fh:
        magic = fh.read(3)
    if magic == b"\x6c\x1b\x00":
        raise ValueError(f"{files['bed']}: an individual-major PLINK .bed; convert it to the "
                         f"SNP-major layout with: plink2 --bfile {files['bed'].with_suffix('')} "
                         f"--make-bed --out NEW_PREFIX")
    if magic != b"\x6c\x1b\x01":
        raise ValueError(f"{files['bed']}: not a SNP-major PLINK 1 .bed file "
                         f"(first bytes {magic.hex()}, expected 6c1b01)")
    want = 3 + (n + 3) // 4 * p
    size = files["bed"].stat().st_size
    if size != want:
        raise ValueError(f"{files['bed']}: {size:,} bytes, but {n:,} samples (.fam) x {p:,} SNPs "
                         f"(.bim) need {want:,}: the .bed is truncated or the files do not match")
    snps = None if all_snps else np.unique(np.linspace(0, p - 1, min(p, PADDING_SAMPLE)).astype(
        np.int64))
    bad = padding_violations(files["bed"], n, p, snps)
    if bad.size:
        checked = p if snps is None else snps.size
        raise ValueError(
            f"{files['fam']} and {files['bed']}: the .fam lists {n:,} samples, but in "
            f"{bad.size:,} of {checked:,} SNPs checked the .bed has genotype bits after the "
            f"last of them (PLINK writes zeros there): the .fam does not belong to this .bed, "
            f"most likely a line is missing. Restore the .fam written with the .bed, or "
            f"rewrite the fileset with plink2 --make-bed")
    return n, p


# SNPs whose padding bits check_fileset reads by default (every SNP with all_snps)
PADDING_SAMPLE = 2000


def padding_violations(bed_path, n, p, snps=None):
    """SNPs (column indices among ``snps``, default all) whose last .bed byte has
    non-zero padding bits: the 2-bit codes after sample ``n`` must be 0 (PLINK 1 format),
    so non-zero ones mean the .bed was written for more samples than the .fam lists."""
    rest = n % 4
    if rest == 0:
        return np.zeros(0, dtype=np.int64)
    per_snp = (n + 3) // 4
    data = np.memmap(bed_path, dtype=np.uint8, mode="r", offset=3, shape=(p, per_snp))
    idx = np.arange(p, dtype=np.int64) if snps is None else np.asarray(snps, dtype=np.int64)
    last = np.asarray(data[idx, per_snp - 1])
    mask = (0xFF << (2 * rest)) & 0xFF
    return idx[(last & mask) != 0]


def open_fileset(prefix):
    """An ``open_bed`` on a checked fileset (use as a context manager)."""
    return open_bed(str(fileset(prefix)["bed"]))


def read_samples(prefix):
    """The key each sample is matched by, as strings: the .fam's IID, or where the
    .fam repeats an IID across families, ``"FID IID"`` for every sample (see
    :mod:`sparselmm.tables`)."""
    with open_fileset(prefix) as bed:
        return np.asarray(sample_keys(bed.fid, bed.iid), dtype=str)


def read_fam(prefix):
    """The .fam's samples (:class:`sparselmm.tables.Samples`)."""
    with open_fileset(prefix) as bed:
        return Samples(bed.fid, bed.iid, fileset(prefix)["fam"])


def read_genotypes(prefix, rows=None, cols=None):
    """int8 dosages, Fortran order (SNP-major), for the samples at ``rows`` and the
    SNPs at ``cols`` (default: all)."""
    with open_fileset(prefix) as bed:
        index = None
        if rows is not None or cols is not None:
            index = np.s_[slice(None) if rows is None else np.asarray(rows),
                          slice(None) if cols is None else np.asarray(cols, dtype=np.int64)]
        return bed.read(index=index, dtype="int8", order="F")


def open_packed(prefix, rows=None):
    """The fileset's genotypes as they lie in the .bed, 2 bits each, memory-mapped
    read-only (:class:`sparselmm._kernels.PackedBed`): every fit kernel reads them in
    place, so jobs on one node share the page cache's copy and a fold is an index.

    ``rows`` (default: every sample) are .fam rows, in the order the matrix gets them.
    The fileset is checked first (:func:`check_fileset`).
    """
    n, p = check_fileset(prefix)
    data = np.memmap(fileset(prefix)["bed"], dtype=np.uint8, mode="r", offset=3,
                     shape=(p, (n + 3) // 4))
    rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(f"{fileset(prefix)['fam']}: sample rows must lie in 0..{n - 1}")
    return PackedBed(np.asarray(data), rows, (rows.size, p))


def read_bim(prefix):
    """The .bim as a table: chrom, snp, cm, pos, a1, a2 (IDs and alleles as text)."""
    return pd.read_csv(fileset(prefix)["bim"], sep=r"\s+", header=None, dtype=str,
                       names=["chrom", "snp", "cm", "pos", "a1", "a2"], keep_default_na=False)
