"""PLINK 1 binary filesets (.bed/.bim/.fam) through bed-reader, kept int8."""

from pathlib import Path

import numpy as np
from bed_reader import open_bed, to_bed


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


def open_fileset(prefix):
    """An ``open_bed`` on a checked fileset (use as a context manager)."""
    return open_bed(str(fileset(prefix)["bed"]))


def read_samples(prefix):
    """Sample IDs (the .fam IID column) as strings."""
    with open_fileset(prefix) as bed:
        return np.asarray(bed.iid, dtype=str)


def read_genotypes(prefix, rows=None):
    """int8 dosages, Fortran order (SNP-major), for the samples at ``rows``."""
    with open_fileset(prefix) as bed:
        index = None if rows is None else np.s_[np.asarray(rows), :]
        return bed.read(index=index, dtype="int8", order="F")
