"""Simulated genotypes and phenotypes of the paper's Fig 1 design (Xiao 2019).

Genotypes, three designs (``genotypes=``):

* ``"independent"`` (the paper's): independent SNPs, ``MAF ~ U(maf_low, maf_high)``,
  dosages ``Binomial(2, MAF)``;
* ``"coalescent"``: SNPs with linkage disequilibrium from the coalescent with
  recombination (msprime; Kelleher et al. 2016, Baumdicker et al. 2022): a
  constant population of ``Ne = 10,000`` diploids, mutation rate ``1.25e-8`` and
  recombination rate ``1e-8`` per bp per generation (human-like), a sequence long
  enough for ``p`` SNPs with minor allele frequency in ``maf_range``, of which the
  first ``p`` are kept (one contiguous stretch of genome);
* real genotypes (a :class:`Genotypes`, e.g. a QC'd PLINK fileset): semi-synthetic
  data, the real LD and allele frequencies with simulated effects.

Phenotype ``y = intercept + Z w + g + e`` with ``Z`` a few
standard-normal covariates of large effect, ``g = X_std beta`` from
``n_causal`` SNPs with ``N(0, 1)`` standardised effects, and ``g`` and ``e``
rescaled so that the SNP heritability ``var(g) / (var(g) + var(e))`` equals
``h2`` exactly in the simulated sample (``e`` is made orthogonal to ``g`` and
``g + e`` has unit variance).

A disease (``prevalence`` K): the liability-threshold model (Falconer 1965). The
phenotype above is the liability; the ``K`` fraction of the sample with the
highest liability are cases (1), the others controls (0), so ``h2`` is the SNP
heritability on the liability scale and the sample is a population sample (its
case fraction is K).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import plink
from ._kernels import INT8_MISSING
from .outputs import write_text, write_tsv


@dataclass
class Simulated:
    genotypes: np.ndarray  # n x p int8
    y: np.ndarray
    covariates: np.ndarray  # n x q
    maf: np.ndarray  # population allele frequency used to draw each SNP
    beta: np.ndarray  # per-allele effects (0 for null SNPs)
    intercept: float  # true intercept once beta is per-allele
    covariate_effects: np.ndarray
    genetic_value: np.ndarray  # g (centred in the sample)
    noise: np.ndarray
    positions: np.ndarray = None  # bp of each SNP (coalescent and real genotypes)
    threshold: float = None  # a disease: the liability above which a sample is a case


@dataclass
class Genotypes:
    """Genotypes to simulate phenotypes on: int8 dosages (n x p, -127 missing) and the
    SNPs' positions (bp, 1-based; None when they have none)."""

    dosages: np.ndarray
    positions: np.ndarray = None


MUTATION_RATE = 1.25e-8
RECOMBINATION_RATE = 1e-8
NE = 10_000


def _check_maf_range(maf_range):
    lo, hi = maf_range
    if not 0 < lo <= hi <= 0.5:
        raise ValueError(f"maf_range must satisfy 0 < low <= high <= 0.5, got {maf_range}")
    return lo, hi


def independent_genotypes(n, p, maf_range, rng):
    """The paper's design: ``(G, maf)``, every SNP drawn on its own."""
    lo, hi = _check_maf_range(maf_range)
    maf = rng.uniform(lo, hi, p)
    G = np.empty((n, p), dtype=np.int8, order="F")
    for j in range(p):  # column by column: no n x p int64 temporary
        G[:, j] = rng.binomial(2, maf[j], size=n)
    # redraw any SNP that came out monomorphic in this sample
    for j in np.flatnonzero(G.min(axis=0) == G.max(axis=0)):
        while G[:, j].min() == G[:, j].max():
            G[:, j] = rng.binomial(2, maf[j], size=n)
    return G, maf


def common_snps_per_bp(n, maf_range, ne=NE, mutation_rate=MUTATION_RATE):
    """Expected SNPs per bp with sample minor allele frequency in ``maf_range`` among
    ``2n`` haplotypes: ``theta * sum_i 1/i`` over derived-allele counts ``i`` in range
    (the neutral site frequency spectrum, ``theta = 4 Ne mu`` per bp)."""
    lo, hi = _check_maf_range(maf_range)
    i = np.arange(1, 2 * n)
    maf = np.minimum(i, 2 * n - i) / (2 * n)
    return 4 * ne * mutation_rate * float(np.sum(1.0 / i[(maf >= lo) & (maf <= hi)]))


def coalescent_genotypes(n, p, maf_range, seed, *, ne=NE, mutation_rate=MUTATION_RATE,
                         recombination_rate=RECOMBINATION_RATE):
    """``Genotypes`` of ``n`` diploids at the first ``p`` SNPs with MAF in ``maf_range``
    of a coalescent simulation (msprime, seeded: reruns are bit-identical).

    The sequence length is chosen from :func:`common_snps_per_bp` with a 15 % margin;
    a sequence that falls short (random variation) is simulated again 30 % longer.
    """
    import msprime

    lo, hi = _check_maf_range(maf_range)
    length = 1.15 * p / common_snps_per_bp(n, maf_range, ne, mutation_rate)
    seeds = np.random.SeedSequence(seed).generate_state(20)
    for attempt in range(10):
        ts = msprime.sim_ancestry(samples=n, sequence_length=round(length),
                                  recombination_rate=recombination_rate, population_size=ne,
                                  random_seed=int(seeds[2 * attempt]) + 1)
        ts = msprime.sim_mutations(ts, rate=mutation_rate, model=msprime.BinaryMutationModel(),
                                   discrete_genome=True,
                                   random_seed=int(seeds[2 * attempt + 1]) + 1)
        H = ts.genotype_matrix()  # sites x 2n haplotypes (individual i: 2i, 2i + 1)
        dosage = (H[:, 0::2] + H[:, 1::2]).astype(np.int8)
        freq = dosage.mean(axis=1, dtype=np.float64) / 2
        maf = np.minimum(freq, 1 - freq)
        keep = np.flatnonzero((maf >= lo) & (maf <= hi))
        if keep.size >= p:
            keep = keep[:p]
            G = np.asfortranarray(dosage[keep].T)
            positions = ts.tables.sites.position[keep].astype(np.int64) + 1
            return Genotypes(G, positions)
        length *= 1.3
    raise RuntimeError(f"coalescent simulation gave fewer than {p} SNPs with MAF in "
                       f"{maf_range} in 10 attempts")


def simulate(*, n, p, n_causal, h2, covariate_effects=(1.0, -1.0, 0.5), intercept=0.0,
             maf_range=(0.05, 0.5), seed=0, genotypes="independent", prevalence=None):
    """Simulate one data set. Every draw comes from ``numpy.random.default_rng(seed)``
    (the coalescent genotypes from msprime seeded from ``seed``); ``genotypes``:
    ``"independent"``, ``"coalescent"`` or a :class:`Genotypes` (then ``n`` and ``p``
    are its shape). ``prevalence``: a binary trait by the liability-threshold model
    (module docstring; ``y`` is 0/1), None: quantitative."""
    if not 0 < h2 < 1:
        raise ValueError(f"h2 must lie in (0, 1), got {h2}")
    if prevalence is not None and not 0 < prevalence < 1:
        raise ValueError(f"prevalence must lie in (0, 1), got {prevalence}")
    if isinstance(genotypes, Genotypes):
        n, p = genotypes.dosages.shape
    if not 1 <= n_causal <= p:
        raise ValueError(f"n_causal must be between 1 and p={p}, got {n_causal}")
    _check_maf_range(maf_range)
    rng = np.random.default_rng(seed)
    positions = None
    if isinstance(genotypes, Genotypes):
        G, positions = np.asfortranarray(genotypes.dosages), genotypes.positions
        maf = None
    elif genotypes == "independent":
        G, maf = independent_genotypes(n, p, maf_range, rng)
    elif genotypes == "coalescent":
        sim = coalescent_genotypes(n, p, maf_range, seed)
        G, positions, maf = sim.dosages, sim.positions, None
    else:
        raise ValueError(f"genotypes must be 'independent', 'coalescent' or Genotypes, "
                         f"got {genotypes!r}")
    if maf is None:  # the sample frequency of the minor allele
        called = G != INT8_MISSING
        freq = np.where(called, G, 0).sum(axis=0) / np.maximum(called.sum(axis=0), 1) / 2
        maf = np.minimum(freq, 1 - freq)
    w = np.asarray(covariate_effects, dtype=float)
    Z = rng.normal(size=(n, w.size))
    causal = np.sort(rng.choice(p, n_causal, replace=False))
    effect = rng.normal(size=n_causal)
    Gc = G[:, causal].astype(float)
    Gc[Gc == INT8_MISSING] = np.nan  # missing calls (real genotypes): at the SNP's mean
    mean = np.nanmean(Gc, axis=0)
    Gc = np.where(np.isnan(Gc), mean, Gc)
    sd = Gc.std(axis=0)
    if np.any(sd == 0):
        raise ValueError("a causal SNP is monomorphic in the sample: QC the genotypes first")
    g = ((Gc - mean) / sd) @ effect
    scale = np.sqrt(h2 / g.var())
    g *= scale
    e = rng.normal(size=n)
    e -= e.mean()
    e -= g * (g @ e) / (g @ g)  # orthogonal to g: no sample covariance
    e *= np.sqrt((1 - h2) / e.var())
    beta = np.zeros(p)
    beta[causal] = effect * scale / sd
    y = intercept + Z @ w + g + e
    threshold = None
    if prevalence is not None:  # the top K of the liabilities are the cases
        ranked = np.sort(y)[::-1]
        k = int(round(prevalence * n))
        if not 0 < k < n:
            raise ValueError(f"prevalence {prevalence} of {n} samples leaves one class empty")
        threshold = float((ranked[k - 1] + ranked[k]) / 2)
        y = (y > threshold).astype(float)
    return Simulated(G, y, Z, maf, beta, float(intercept - mean @ beta[causal]), w, g, e,
                     positions, threshold)


# -- a data set on disk ------------------------------------------------------------------
# the phenotype column of a simulated data set's phenotype and folds tables
PHENOTYPE = "y"


def write_simulation(out_prefix, *, n, p, n_causal, h2, covariate_effects, intercept,
                     maf_range, seed, genotypes="independent", prevalence=None):
    """Simulate one data set and write ``.bed/.bim/.fam``, phenotype, covariate, truth.

    ``genotypes``: ``"independent"`` (the paper's design), ``"coalescent"`` (msprime),
    or the prefix of a PLINK fileset whose genotypes are used as they are (its samples
    and SNPs; ``n`` and ``p`` are then ignored). ``prevalence``: a case-control trait
    (:func:`simulate`); ``truth.json`` then says so.
    """
    out = Path(out_prefix)
    source = None
    if genotypes not in ("independent", "coalescent"):
        source = str(genotypes)
        bim = plink.read_bim(source)
        fam = plink.read_fam(source)
        genotypes = Genotypes(plink.read_genotypes(source), bim["pos"].astype(np.int64).to_numpy())
    sim = simulate(n=n, p=p, n_causal=n_causal, h2=h2, covariate_effects=covariate_effects,
                   intercept=intercept, maf_range=maf_range, seed=seed, genotypes=genotypes,
                   prevalence=prevalence)
    n, p = sim.genotypes.shape
    if source is None:
        iids = [f"ind{i + 1}" for i in range(n)]
        sids = [f"snp{j + 1}" for j in range(p)]
        plink.write_bed(out / "genotypes", sim.genotypes, iids, sids, positions=sim.positions)
    else:  # the fileset's own samples and SNPs (IDs, chromosomes, positions, alleles)
        sids = list(bim["snp"])
        plink.write_bed_props(out / "genotypes", sim.genotypes, {
            "fid": fam.fids, "iid": fam.iids, "sid": sids, "chromosome": list(bim["chrom"]),
            "bp_position": list(sim.positions), "allele_1": list(bim["a1"]),
            "allele_2": list(bim["a2"])})
        iids = list(fam.keys)  # the tables' sample keys (FID IID where IIDs repeat)
    write_tsv(pd.DataFrame({"iid": iids, PHENOTYPE: sim.y}), out / "phenotypes.tsv",
              float_format="%.10g")
    names = [f"cov{k + 1}" for k in range(sim.covariates.shape[1])]
    cov = pd.DataFrame(sim.covariates, columns=names)
    cov.insert(0, "iid", iids)
    write_tsv(cov, out / "covariates.tsv", float_format="%.10g")
    causal = np.flatnonzero(sim.beta)
    truth = {
        "intercept": sim.intercept,
        "covariate_effects": sim.covariate_effects.tolist(),
        "causal_snps": [sids[j] for j in causal],
        "causal_index": causal.tolist(),
        "beta": sim.beta[causal].tolist(),
        "h2_target": h2,
        "h2_realised": float(sim.genetic_value.var() / (sim.genetic_value + sim.noise).var()),
        "seed": seed,
        "genotypes": source or genotypes,
    }
    if prevalence is not None:  # effects and h2 on the liability scale
        truth.update(prevalence=prevalence, cases=int(sim.y.sum()),
                     liability_threshold=sim.threshold, noise_sd=float(sim.noise.std()))
    write_text(out / "truth.json", json.dumps(truth, indent=1))
    return sim


def read_truth(path, p):
    """A data set's ``truth.json`` with ``beta_full``, the effects of all ``p`` SNPs."""
    truth = dict(json.loads(Path(path).read_text()))
    beta = np.zeros(p)
    beta[truth["causal_index"]] = truth["beta"]
    truth["beta_full"] = beta
    return truth
