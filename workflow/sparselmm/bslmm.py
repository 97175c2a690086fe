"""BSLMM (Zhou, Carbonetto & Stephens 2013) through GEMMA, the published sparse-plus-
polygenic model the hybrid is compared with.

GEMMA is run as its authors ship it (Debian's package ``gemma``): ``-bslmm 1`` on the
training samples, then ``-predict 1`` for the samples whose phenotype is missing.
BSLMM has no covariate option, so the covariates (and an intercept) are fitted by least
squares in the training samples and BSLMM is fitted to the residuals; a prediction is the
covariate fit plus GEMMA's prediction. GEMMA predicts ``sum_j (x_j - m_j) (alpha_j +
beta_j gamma_j)`` with ``m_j`` the training mean of SNP j, so the fit is also a linear
predictor on the allele-count scale of the .bim's A1 allele (``coef_``), which is what
the exported model files hold: exactly GEMMA's prediction for samples without missing
calls (GEMMA handles a missing call in its own way; the exported files put it at the
training mean, as for every other method).

References
----------
Zhou, Carbonetto & Stephens, "Polygenic modeling with Bayesian sparse linear mixed
models", PLoS Genetics 9 (2013) e1003264.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import plink
from ._base import LinearPredictor
from ._design import (
    check_genotypes,
    covariate_matrix,
    standardized_matvec,
    take_columns,
    unprepared,
)
from ._kernels import INT8_MISSING, PackedBed

MISSING_GEMMA = ("GEMMA's executable `{exe}` was not found: install Debian's package gemma "
                 "(apt-get install gemma; setup.sh does it when run as root), or leave bslmm "
                 "out of config.yaml's methods")


class GemmaBSLMM(LinearPredictor):
    """BSLMM fitted by GEMMA's MCMC (``gemma -bslmm 1``), predicted by ``gemma -predict``.

    Parameters
    ----------
    burn_in, samples : int
        GEMMA's ``-w`` and ``-s``: burn-in and sampling iterations of the chain
        (GEMMA's defaults are 100,000 and 1,000,000).
    seed : int
        GEMMA's ``-seed``: reruns are identical.
    executable : str, default="gemma"

    Attributes
    ----------
    coef_ : ndarray
        Posterior mean effect per copy of A1 (``alpha + beta gamma``), 0 for SNPs GEMMA
        did not analyse (monomorphic).
    pip_ : ndarray
        GEMMA's posterior inclusion probability of each SNP in the sparse part.
    hyperparameters_ : dict
        Posterior means of ``h``, ``pve``, ``rho``, ``pge``, ``pi``, ``n_gamma``.
    """

    def __init__(self, *, burn_in=10_000, samples=100_000, seed=1, executable="gemma"):
        self.burn_in = burn_in
        self.samples = samples
        self.seed = seed
        self.executable = executable

    def _gemma(self):
        exe = shutil.which(self.executable)
        if exe is None:
            raise RuntimeError(MISSING_GEMMA.format(exe=self.executable))
        return exe

    @staticmethod
    def _write(prefix, G, phenotype):
        n, p = G.shape
        ids = [f"s{i}" for i in range(n)]
        plink.write_bed(prefix, G, ids, [f"snp{j}" for j in range(p)])
        fam = Path(f"{prefix}.fam")
        lines = fam.read_text().splitlines()
        fam.write_text("".join(" ".join(line.split()[:5] + [
            "NA" if np.isnan(v) else f"{v:.12g}"]) + "\n" for line, v in zip(lines, phenotype)))

    def _run(self, args, cwd):
        proc = subprocess.run([self._gemma(), *args], cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0 or "error" in proc.stdout.lower():
            raise RuntimeError(f"gemma {' '.join(args)} failed (exit {proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-1500:]}")

    def fit(self, X, y, Z=None):
        self._gemma()
        X, Z = unprepared(X, Z)
        G, _ = check_genotypes(X)
        if isinstance(G, PackedBed):  # GEMMA reads a .bed of the training samples
            G = take_columns(G, np.arange(G.shape[1]))
        if G.dtype != np.int8:
            raise ValueError("GemmaBSLMM needs int8 dosages (PLINK .bed genotypes)")
        y = np.asarray(y, dtype=float)
        Zfull = covariate_matrix(Z, len(y))
        w, *_ = np.linalg.lstsq(Zfull, y, rcond=None)
        resid = y - Zfull @ w
        with tempfile.TemporaryDirectory(prefix="bslmm") as tmp:
            self._write(Path(tmp) / "train", G, resid)
            self._run(["-bfile", "train", "-bslmm", "1", "-w", str(int(self.burn_in)),
                       "-s", str(int(self.samples)), "-seed", str(int(self.seed)),
                       "-outdir", "out", "-o", "fit"], tmp)
            par = pd.read_csv(Path(tmp) / "out/fit.param.txt", sep="\t")
            hyp = pd.read_csv(Path(tmp) / "out/fit.hyp.txt", sep=r"\s+")
            self._param = (Path(tmp) / "out/fit.param.txt").read_text()
            self._log = (Path(tmp) / "out/fit.log.txt").read_text()
        col = par["rs"].str.slice(3).astype(int).to_numpy()
        coef = np.zeros(G.shape[1])
        coef[col] = (par["alpha"] + par["beta"] * par["gamma"]).to_numpy()
        pip = np.zeros(G.shape[1])
        pip[col] = par["gamma"].to_numpy()
        called = G != INT8_MISSING
        mean = np.where(called, G, 0).sum(axis=0) / np.maximum(called.sum(axis=0), 1)
        self._G_train, self._resid = G, resid
        self.n_features_in_ = G.shape[1]
        self.coef_, self.pip_, self.x_mean_ = coef, pip, mean
        self.x_scale_ = np.ones(G.shape[1])  # GEMMA's effects are per allele count
        self._w = w
        self.intercept_ = float(w[0] - mean @ coef)
        self.covariate_coef_ = w[1:].copy()
        self.hyperparameters_ = {k: float(v) for k, v in hyp.mean().items()}
        self.pve_ = self.hyperparameters_.get("pve")
        self.pi_ = self.hyperparameters_.get("pi")
        self.converged_ = True
        return self

    def predict_genetic(self, X, snps=None):
        """GEMMA's own prediction (``gemma -predict 1``) of the SNP part for ``X``: the
        training samples (with their phenotypes) and these (phenotype missing) are
        written as one fileset, as GEMMA expects.

        ``snps``: column indices; the SNP part is then ``sum_j coef_j (x_j - x_mean_j)``
        over those SNPs, the exported model's linear form (GEMMA predicts from all
        SNPs only).
        """
        self._check_fitted()
        G, sentinel = check_genotypes(X, fill=self.x_mean_)
        if isinstance(G, PackedBed):
            G = take_columns(G, np.arange(G.shape[1]))
        if G.dtype != np.int8:
            raise ValueError("GemmaBSLMM needs int8 dosages (PLINK .bed genotypes)")
        self._check_width(G)
        if snps is not None:
            coef = np.zeros_like(self.coef_)
            coef[snps] = self.coef_[snps]
            return standardized_matvec(G, sentinel, self.x_mean_, self.x_scale_, coef)
        both = np.vstack([self._G_train, G])
        pheno = np.concatenate([self._resid, np.full(G.shape[0], np.nan)])
        with tempfile.TemporaryDirectory(prefix="bslmm") as tmp:
            self._write(Path(tmp) / "all", both, pheno)
            (Path(tmp) / "fit.param.txt").write_text(self._param)
            (Path(tmp) / "fit.log.txt").write_text(self._log)
            self._run(["-bfile", "all", "-epm", "fit.param.txt", "-emu", "fit.log.txt",
                       "-predict", "1", "-outdir", "out", "-o", "pred"], tmp)
            pred = pd.read_csv(Path(tmp) / "out/pred.prdt.txt", header=None,
                               na_values=["NA", "nan", "-nan"])[0].to_numpy()
        return pred[len(self._resid):]
