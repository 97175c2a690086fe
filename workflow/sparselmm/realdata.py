"""Real genotypes and phenotypes: the public GEUVADIS default, QC and PCs.

The default data set is the chromosome 22 example of QTLtools (Delaneau et
al. 2017), shipped by Debian's ``qtltools-example`` package: 1000 Genomes
phase 3 genotypes and GEUVADIS RNA-seq expression (Lappalainen et al. 2013)
of 358 European individuals and 608 genes.
"""

import gzip
import sys

import numpy as np
import pandas as pd

from . import _kernels, plink
from ._design import inverse_sd, standardised_blocks, take_snps
from .outputs import write_tsv
from .tables import redundant_columns

SENTINEL = np.int8(_kernels.INT8_MISSING)


def expression_bed_to_tsv(bed_gz, out_tsv):
    """QTLtools' phenotype BED (genes x samples) -> samples x genes TSV with ``iid``."""
    with gzip.open(bed_gz, "rt") as fh:
        df = pd.read_csv(fh, sep="\t")
    meta = ["#chr", "start", "end", "gene", "length", "strand"]
    missing = [c for c in meta[:4] if c not in df.columns]
    if missing:
        raise ValueError(f"{bed_gz}: not a QTLtools phenotype BED (missing {missing})")
    samples = [c for c in df.columns if c not in meta]
    tab = df.set_index("gene")[samples].T
    tab.index.name = "iid"
    write_tsv(tab, out_tsv, index=True, float_format="%.10g")
    return tab.shape


def plink2(*args, log=sys.stderr, threads=1, memory_mb=None):
    """Run plink2 (``--threads``, ``--memory`` MB), its output to ``log``; a failure
    raises RuntimeError with the end of plink2's own report."""
    import shutil
    import subprocess

    exe = shutil.which("plink2")
    if exe is None:
        raise RuntimeError("plink2 is not installed: run setup.sh (Debian package plink2)")
    cmd = [exe, *map(str, args), "--allow-extra-chr", "--threads", str(int(threads))]
    if memory_mb:
        cmd += ["--memory", str(int(memory_mb))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout, end="", file=log)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr)[-1500:]}")


def genotype_qc(prefix, out_prefix, *, min_maf, max_missing, threads=1, memory_mb=None,
                log=sys.stderr):
    """Keep SNPs with MAF >= ``min_maf`` and missing rate <= ``max_missing``, with
    plink2 (``--maf --geno --make-bed``: the genotypes are never decoded here).

    SNPs whose calls are all one genotype, and all-missing SNPs, are always dropped.
    Writes a new fileset and returns a dict of counts (also printed to ``log``), from
    plink2's genotype counts (``--geno-counts``).
    """
    import tempfile
    from pathlib import Path

    n, p = plink.check_fileset(prefix, all_snps=True)
    prefix, out_prefix = str(plink.fileset(prefix)["bed"])[:-4], str(out_prefix)
    Path(out_prefix).parent.mkdir(parents=True, exist_ok=True)
    run = dict(log=log, threads=threads, memory_mb=memory_mb)
    with tempfile.TemporaryDirectory(prefix="qc", dir=Path(out_prefix).parent) as tmp:
        plink2("--bfile", prefix, "--geno-counts", "--out", f"{tmp}/stats", **run)
        table = pd.read_csv(f"{tmp}/stats.gcount", sep="\t", dtype={"ID": str},
                            keep_default_na=False)
        counts, constant, passing = _qc_counts(table, n, min_maf, max_missing)
        if passing == 0:
            raise ValueError(f"{prefix}: no SNP passes QC (MAF >= {min_maf}, missing <= "
                             f"{max_missing})")
        # SNPs whose calls are all one genotype (all heterozygous included, which --mac
        # keeps) carry no information: plink2 leaves them out by name
        Path(f"{tmp}/constant.txt").write_text("".join(f"{i}\n" for i in table["ID"][constant]))
        plink2("--bfile", prefix, "--maf", repr(float(min_maf)), "--geno",
               repr(float(max_missing)), "--mac", "1", "--exclude", f"{tmp}/constant.txt",
               "--make-bed", "--out", out_prefix, **run)
    Path(f"{out_prefix}.log").unlink(missing_ok=True)  # its text is in ``log``
    kept = plink.read_bim(out_prefix)["snp"].to_numpy()
    keep = np.isin(plink.read_bim(prefix)["snp"].to_numpy(), kept)
    counts.update(snps_kept=int(keep.sum()),
                  missing_calls_kept=int(table["MISSING_CT"].to_numpy()[keep].sum()), samples=n)
    if kept.size != passing:  # plink2's own rounding at a threshold
        print(f"note: plink2 kept {kept.size} SNPs where its genotype counts give "
              f"{passing}", file=log)
    print("genotype QC: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=log)
    print(f"missing genotype calls kept (mean-imputed in the fits): {counts['missing_calls_kept']}",
          file=log)
    return counts


def _qc_counts(table, n, min_maf, max_missing):
    """The QC categories from plink2's ``--geno-counts`` table: a dict of counts, the
    SNPs whose calls are all one genotype (or none), and the number that pass."""
    hom_ref = (table["HOM_REF_CT"] + table["HAP_REF_CT"]).to_numpy()
    het = table["HET_REF_ALT_CTS"].to_numpy()
    hom_alt = (table["TWO_ALT_GENO_CTS"] + table["HAP_ALT_CTS"]).to_numpy()
    called = hom_ref + het + hom_alt
    all_missing = called == 0
    mono = ~all_missing & ((hom_ref == called) | (het == called) | (hom_alt == called))
    freq = (het + 2 * hom_alt) / np.maximum(2 * called, 1)
    maf = np.minimum(freq, 1 - freq)
    rest = ~all_missing & ~mono
    low_maf = rest & (maf < min_maf)
    high_missing = rest & ~low_maf & (table["MISSING_CT"].to_numpy() / n > max_missing)
    counts = {"snps_in": int(called.size), "all_missing": int(all_missing.sum()),
              "monomorphic": int(mono.sum()), "low_maf": int(low_maf.sum()),
              "high_missingness": int(high_missing.sum())}
    return counts, all_missing | mono, int((rest & ~low_maf & ~high_missing).sum())


def _standardise(G):
    mean, sd, _ = _kernels.column_moments(G, SENTINEL)
    return mean, inverse_sd(mean, sd)


def _x_times(G, mean, scale, B):
    """X_std @ B, blockwise over SNPs (X_std never formed)."""
    out = np.zeros((G.shape[0], B.shape[1]))
    for j0, j1, blk in standardised_blocks(G, SENTINEL, mean, scale):
        out += blk @ B[j0:j1]
    return out


def _xt_times(G, mean, scale, A):
    """X_std^T @ A, blockwise over SNPs."""
    out = np.empty((G.shape[1], A.shape[1]))
    for j0, j1, blk in standardised_blocks(G, SENTINEL, mean, scale):
        out[j0:j1] = blk.T @ A
    return out


def genotype_pcs(G, k, *, seed=0, oversample=10, n_power=4):
    """Top ``k`` principal components of the standardised genotypes.

    Randomized SVD (Halko, Martinsson & Tropp 2011) with ``n_power`` power
    iterations, on int8 (or packed, :class:`sparselmm._kernels.PackedBed`) genotypes
    standardised block by block: no dense copy of the matrix. Returns the
    n x k scores ``U S`` (sign fixed so that each column's largest |entry| is
    positive) and the singular values.
    """
    n, p = G.shape
    k = int(k)
    if not 1 <= k < min(n, p):
        raise ValueError(f"cannot compute {k} PCs from {n} samples x {p} SNPs")
    mean, scale = _standardise(G)
    rng = np.random.default_rng(seed)
    ell = min(k + oversample, min(n, p))
    Y = _x_times(G, mean, scale, rng.normal(size=(p, ell)))
    Q, _ = np.linalg.qr(Y)
    for _ in range(n_power):
        W, _ = np.linalg.qr(_xt_times(G, mean, scale, Q))
        Q, _ = np.linalg.qr(_x_times(G, mean, scale, W))
    B = _xt_times(G, mean, scale, Q).T  # ell x p, B = Q^T X
    Ub, s, _ = np.linalg.svd(B, full_matrices=False)
    U = Q @ Ub[:, :k]
    idx = np.abs(U).argmax(axis=0)
    U *= np.sign(U[idx, np.arange(k)])
    return U * s[:k], s[:k]


AUTOSOMES = {str(c) for c in range(1, 23)}


def pc_snps(chroms, chromosomes="autosomes"):
    """Indices of the SNPs the PCs are computed from, and a note of what was left out.

    ``chromosomes``: "autosomes" (1-22, with or without a "chr" prefix: sex
    chromosomes, mitochondria and unplaced SNPs, code 0, would give components of sex
    or of genotyping artefacts), "all", or a list of chromosome codes.
    """
    chroms = pd.Series(chroms, dtype=str).str.removeprefix("chr")
    if chromosomes == "all":
        return np.arange(len(chroms)), ""
    wanted = AUTOSOMES if chromosomes == "autosomes" else {str(c).removeprefix("chr")
                                                          for c in chromosomes}
    keep = chroms.isin(wanted).to_numpy()
    left = chroms[~keep].value_counts(sort=False)
    note = ", ".join(f"{count} on chromosome {name}" for name, count in left.items())
    return np.flatnonzero(keep), note


def write_covariates(prefix, out_tsv, *, n_pcs, seed=0, extra=None, source=None,
                     chromosomes="autosomes", log=sys.stderr):
    """Genotype PCs (plus optional user covariate columns) as a covariate TSV.

    The PCs use the SNPs of ``chromosomes`` (:func:`pc_snps`); those left out are
    reported in ``log``.

    ``extra``: the user's covariates keyed like the .fam (complete samples only,
    :func:`sparselmm.tables.user_covariates`), read from ``source``. A user column
    that is constant or a linear combination of the intercept, the PCs and the user
    columns before it is dropped with a warning naming it in ``log``: the span of
    the covariates, and so every fit and prediction, is the same without it.
    """
    with plink.open_fileset(prefix) as bed:
        keys = np.asarray(plink.sample_keys(bed.fid, bed.iid), dtype=str)
        snps, note = pc_snps(bed.chromosome, chromosomes)
    if n_pcs > 0 and snps.size == 0:
        raise ValueError(f"{prefix}.bim: no SNP on the chromosomes the PCs use "
                         f"({chromosomes}); set realdata.pc_chromosomes (\"all\" or a list)")
    if note and n_pcs > 0:
        print(f"PCs from {snps.size} SNPs of {chromosomes}; left out: {note}", file=log)
    # the packed .bed itself (2 bits per genotype, memory-mapped): the randomized SVD
    # decodes it block by block, as it standardises it
    G = take_snps(plink.open_packed(prefix), snps) if n_pcs > 0 else None
    tab = pd.DataFrame(index=pd.Index(keys, name="iid"))
    if n_pcs > 0:
        scores, _ = genotype_pcs(G, n_pcs, seed=seed)
        for c in range(n_pcs):
            tab[f"PC{c + 1}"] = scores[:, c]
    if extra is not None:
        tab = tab.join(extra, how="inner")
        if tab.empty:
            raise ValueError(f"{source}: no sample with complete covariates is genotyped")
        for name, why in redundant_columns(tab.to_numpy(dtype=float), list(tab.columns), n_pcs):
            print(f"WARNING {source}: covariate column {name!r} dropped: {why} (the intercept, "
                  f"PCs and other columns span the same space without it)", file=log)
            tab = tab.drop(columns=name)
    write_tsv(tab, out_tsv, index=True, float_format="%.10g")
    return tab


def _sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_geuvadis(source, out_archive, *, deb_sha256, archive_sha256, log=sys.stderr):
    """Put QTLtools' ``examples.tar.xz`` at ``out_archive``, checksum-verified.

    ``source`` is ``"apt"`` (``apt-get download qtltools-example``, which needs
    no root) or a path to a local copy of that .deb or of the archive itself.
    """
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    out_archive = Path(out_archive)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if source == "apt":
            if shutil.which("apt-get") is None:
                raise RuntimeError(
                    "realdata.geuvadis_source is 'apt' but apt-get is not available: set it to "
                    "a local copy of qtltools-example_1.3.1+dfsg-4_all.deb or its examples.tar.xz")
            subprocess.run(["apt-get", "download", "qtltools-example=1.3.1+dfsg-4"], cwd=tmp,
                           check=True, stdout=log, stderr=log)
            src = next(tmp.glob("qtltools-example_*.deb"))
        else:
            src = Path(source)
            if not src.exists():
                raise FileNotFoundError(f"realdata.geuvadis_source: {src} does not exist")
        if src.suffix == ".deb":
            got = _sha256(src)
            if got != deb_sha256:
                raise ValueError(f"{src}: sha256 {got} differs from the pinned {deb_sha256}")
            subprocess.run(["dpkg-deb", "-x", str(src), str(tmp / "deb")], check=True)
            src = tmp / "deb/usr/share/doc/qtltools/examples/examples.tar.xz"
        got = _sha256(src)
        if got != archive_sha256:
            raise ValueError(f"{src}: sha256 {got} differs from the pinned {archive_sha256}")
        out_archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out_archive)
    print(f"examples.tar.xz verified (sha256 {archive_sha256})", file=log)
