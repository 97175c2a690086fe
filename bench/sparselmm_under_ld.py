"""SparseLMM under linkage disequilibrium: ways of fitting it, side by side on the same folds.

Candidates (each a SparseLMM configuration; the Lasso as the reference):

* ``em, file order``      pi by EM, coordinate updates in file order (the default before)
* ``em, leads first``     pi by EM, SNPs with marginal |z| >= 3 visited first (the default)
* ``em, best of both``    both orders, the fit with the higher ELBO kept (two fits)
* ``grid, file order``    varbvs-style averaging over a 20-point log-odds grid
* ``grid, leads first``   the same with leads first
* ``em, Lasso start``     leads first, started from the end of one Lasso path (``init="lasso"``)
* ``em, both starts``     the prior start and the Lasso start, the higher ELBO kept (``init="both"``;
                          taken from the two fits above, as ``init="both"`` does)
* ``lasso``               the int8 Lasso, penalty by inner 5-fold CV

Data, every fit on the same 5 folds:

1. real: GEUVADIS chr22 genes with strong cis-eQTLs: the default panel's three genes with
   signal, and six more drawn (numpy default_rng(19)) from the genes whose strongest
   marginal association after the covariates reaches |z| >= 8;
2. semi-synthetic: the GEUVADIS genotypes (real LD) with planted effects, truth known:
   1 causal SNP; 3 causal SNPs in one 50-SNP window; 10 causal SNPs, two in each of five
   50-SNP windows; SNP heritability 0.3, 3 data sets each, the 10 genotype PCs as covariates;
3. Fig 1: every simulated data set and fold of the workflow (independent SNPs);
4. Fig 1 under LD: replicate 1 of every scenario of ``configs/fig1_ld.yaml`` (coalescent
   genotypes), its folds.

Prints mean held-out R^2 of the SNP part per data set and candidate, group means, and
median seconds per fit (fit + predict, one core). ``--quick`` leaves out the grid
candidates (15x the time of EM) and file order. ``--hybrid`` also fits the hybrid
(``HybridLMM`` with config.yaml's ``hybrid`` options) on the same folds and prints its
time per data set as a ratio to SparseLMM's (median seconds per fit, both starts).
``--start-eps=E,E,...`` adds the Lasso start with its path ending at ``E`` times the
largest penalty instead of ``sparselmm.model.LASSO_START_EPS`` (a sparser, cheaper start).
Needs the workflow's outputs:

    .venv/bin/snakemake --cores 2
    .venv/bin/snakemake --cores 2 --configfile configs/fig1_ld.yaml --until folds  # fig1_ld
    .venv/bin/python bench/sparselmm_under_ld.py [--quick] [real semi fig1 fig1_ld]
    .venv/bin/python bench/sparselmm_under_ld.py --quick fig1_ld=c100_h0.5,c100_h0.8
    .venv/bin/python bench/sparselmm_under_ld.py --quick --hybrid real
    .venv/bin/python bench/sparselmm_under_ld.py --quick --start-eps=0.03,0.1 real
"""

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import sparselmm.model
from sparselmm import SparseLMM, plink
from sparselmm.cv import assign_folds, covariate_fit, heldout_metrics
from sparselmm.methods import make_model
from sparselmm.penalised import ProjectedLassoCV
from sparselmm.samples import rank_inverse_normal
from sparselmm.tables import read_table
from workflow_config import config_section

BED = "results/realdata/genotypes/qc"
EXPRESSION = "resources/geuvadis/expression.tsv"
COVARIATES = "results/realdata/covariates.tsv"
PANEL_WITH_SIGNAL = ["ENSG00000172404.4", "ENSG00000273295.1", "ENSG00000211643.2"]
FOLDS, FOLD_SEED = 5, 1  # the workflow's cv section
CANDIDATES = {
    "em, file order": dict(order="index"),
    "em, leads first": dict(order="marginal"),
    "grid, file order": dict(pi_mode="grid", order="index"),
    "grid, leads first": dict(pi_mode="grid", order="marginal"),
    "em, Lasso start": dict(init="lasso"),
}
STARTS = "em, both starts"  # init="both": the higher ELBO of leads first and Lasso start
GRID = ("grid, file order", "grid, leads first")
SLOW = GRID + ("em, file order",)  # left out by --quick (with the best of both orders)
BOTH = "em, best of both"
HYBRID = "hybrid"
START_EPS = "em, Lasso start to eps"  # --start-eps: the path's end moved


def real_samples():
    fam = plink.read_samples(BED)
    expr = read_table(EXPRESSION, "phenotype")
    cov = read_table(COVARIATES, "covariate")
    ids = [i for i in fam if i in expr.index and i in cov.index]
    pos = {iid: k for k, iid in enumerate(fam)}
    G = plink.read_genotypes(BED, rows=np.array([pos[i] for i in ids]))
    return ids, G, expr.loc[ids], cov.loc[ids].to_numpy(dtype=float)


def marginal_z(G, Y, Z):
    """Largest |z| of a SNP's marginal association with each column of Y, after Z."""
    X = G.astype(np.float32)
    X[G == -127] = np.nan
    X = np.where(np.isnan(X), np.nanmean(X, axis=0), X) - np.nanmean(X, axis=0)
    Q, _ = np.linalg.qr(np.column_stack([np.ones(len(X)), Z]))
    X -= (Q @ (Q.T @ X)).astype(np.float32)
    X /= np.linalg.norm(X, axis=0) + 1e-12
    Y = Y - Q @ (Q.T @ Y)
    Y /= np.linalg.norm(Y, axis=0)
    return np.abs(X.T @ Y.astype(np.float32)).max(axis=0) * np.sqrt(len(X) - Q.shape[1])


def real_data():
    ids, G, expr, Z = real_samples()
    Y = np.column_stack([rank_inverse_normal(expr[c].to_numpy(dtype=float))
                         for c in expr.columns])
    z = pd.Series(marginal_z(G, Y, Z), index=expr.columns)
    strong = sorted(set(z.index[z >= 8]) - set(PANEL_WITH_SIGNAL))
    extra = list(np.random.default_rng(19).choice(strong, 6, replace=False))
    for gene in PANEL_WITH_SIGNAL + extra:
        y = rank_inverse_normal(expr[gene].to_numpy(dtype=float))
        yield f"{gene} (max |z| {z[gene]:.1f})", G, y, Z, None, None


def semi_synthetic():
    _, G, _, Z = real_samples()
    X = G.astype(float)
    X[G == -127] = np.nan
    mean = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), mean, X) - mean
    sd = X.std(axis=0)
    for n_causal, windows in ((1, 1), (3, 1), (10, 5)):
        for rep in range(3):
            rng = np.random.default_rng(1000 * n_causal + rep)
            causal = []
            for start in rng.choice(G.shape[1] - 50, windows, replace=False):
                block = np.flatnonzero(sd[start:start + 50] > 0) + start
                causal += list(rng.choice(block, n_causal // windows, replace=False))
            g = X[:, causal] / sd[causal] @ rng.normal(size=len(causal))
            g *= np.sqrt(0.3 / g.var())
            e = rng.normal(size=len(g))
            e *= np.sqrt(0.7 / e.var())
            yield f"{n_causal} causal in LD, data set {rep + 1}", G, g + e, Z, None, g


def fig1_data(root="results/simulation/data", replicates="rep*", scenarios=None):
    for data in sorted(Path(root).glob(f"c*_h*/{replicates}")):
        if scenarios and data.parent.name not in scenarios:
            continue
        G = plink.read_genotypes(data / "genotypes")
        y = read_table(data / "phenotypes.tsv", "phenotype")["y"].to_numpy(dtype=float)
        Z = read_table(data / "covariates.tsv", "covariate").to_numpy(dtype=float)
        folds = read_table(data / "folds.tsv", "fold")["y"].to_numpy()
        yield f"{data.parent.name} {data.name}", G, y, Z, folds, None


@contextmanager
def start_eps(eps):
    """The Lasso start's path ending at ``eps`` times the largest penalty (None: as is)."""
    default = sparselmm.model.LASSO_START_EPS
    sparselmm.model.LASSO_START_EPS = default if eps is None else eps
    try:
        yield
    finally:
        sparselmm.model.LASSO_START_EPS = default


def timed(model, Gtr, ytr, Ztr, Gte, Zte, eps=None):
    t = time.perf_counter()
    with start_eps(eps):
        model.fit(Gtr, ytr, Ztr)
    pred = model.predict(Gte, Zte)
    return model, pred, time.perf_counter() - t


def run(group, datasets, candidates, hybrid=None):
    """Every candidate (and ``hybrid``'s options, if given) on every fold of every data set."""
    rows = []
    for name, G, y, Z, folds, truth in datasets:
        if folds is None:
            folds = assign_folds(len(y), FOLDS, FOLD_SEED)
        for k in range(FOLDS):
            tr, te = folds != k, folds == k
            Gtr, Gte = np.asfortranarray(G[tr]), np.asfortranarray(G[te])
            cov = covariate_fit(Z[tr], y[tr], Z[te])
            fits = {}
            for cand, opts in candidates.items():
                opts = dict(opts)
                eps = opts.pop("start_eps", None)
                fits[cand] = timed(SparseLMM(**opts), Gtr, y[tr], Z[tr], Gte, Z[te], eps)
            def better(a, b):
                best = max((fits[a], fits[b]), key=lambda f: f[0].elbo_[-1])
                return best[0], best[1], fits[a][2] + fits[b][2]

            if "em, file order" in fits:
                fits[BOTH] = better("em, file order", "em, leads first")
            fits[STARTS] = better("em, leads first", "em, Lasso start")
            fits["lasso"] = timed(ProjectedLassoCV(), Gtr, y[tr], Z[tr], Gte, Z[te])
            if hybrid is not None:
                fits[HYBRID] = timed(make_model("hybrid", hybrid), Gtr, y[tr], Z[tr], Gte,
                                     Z[te])
            if truth is not None:  # the true genetic value: the best achievable
                fits["oracle"] = (None, cov + truth[te] - truth[tr].mean(), 0.0)
            for cand, (_, pred, sec) in fits.items():
                r2 = heldout_metrics(y[te], pred, cov)["r2_snp"]
                rows.append(dict(group=group, data=name, fold=k, candidate=cand, r2_snp=r2,
                                 seconds=sec))
            print(f"{group} | {name} | fold {k}: " + ", ".join(
                f"{c} {r['r2_snp']:.3f}" for c, r in zip(fits, rows[-len(fits):])),
                file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def report(t):
    for group, part in t.groupby("group", sort=False):
        eps = sorted(c for c in set(part.candidate) if c.startswith(START_EPS))
        order = list(CANDIDATES)[:2] + [BOTH] + list(CANDIDATES)[2:] + eps + [
            STARTS, "lasso", HYBRID, "oracle"]
        order = [c for c in order if c in set(part.candidate)]
        table = part.pivot_table(index="data", columns="candidate", values="r2_snp",
                                 sort=False)[order]
        table.loc["mean"] = table.mean()
        print(f"\n{group}: mean held-out R^2 of the SNP part over {FOLDS} folds")
        print(table.round(4).to_string())
        sec = part.groupby("candidate").seconds.median()[order].drop("oracle", errors="ignore")
        print("median seconds per fit: " + ", ".join(f"{c} {s:.2f}" for c, s in sec.items()))
        if HYBRID in sec:
            hybrid_ratios(part)
        for c in eps:
            paired(part, c, "em, Lasso start")


def paired(part, a, b):
    """Candidate ``a`` against ``b``: R^2 difference paired over folds (mean and SE), the
    data set where ``a`` loses most, and the ratio of median seconds per fit."""
    wide = part.pivot_table(index=["data", "fold"], columns="candidate", values="r2_snp")
    d = wide[a] - wide[b]
    worst = d.groupby(level="data", sort=False).mean().sort_values()
    sec = part.groupby("candidate").seconds.median()
    print(f"{a} - {b}: {d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(d.size):.4f} over "
          f"{d.size} folds; worst data set {worst.index[0]} {worst.iloc[0]:+.4f}; "
          f"time {sec[a] / sec[b]:.2f}x")


def hybrid_ratios(part):
    """The hybrid's median seconds per fit over each data set's folds, as a ratio to
    SparseLMM's with either start (the same folds, the same run)."""
    med = part.pivot_table(index="data", columns="candidate", values="seconds",
                           aggfunc="median", sort=False)
    starts = [c for c in ("em, Lasso start", "em, leads first") if c in med]
    ratios = pd.DataFrame({f"hybrid / {c}": med[HYBRID] / med[c] for c in starts})
    ratios.insert(0, "hybrid s", med[HYBRID])
    for c in starts:
        ratios.insert(1, f"{c} s", med[c])
    ratios.loc["median"] = ratios.median()
    print("\nthe hybrid's time per fit (median over folds) against SparseLMM's")
    print(ratios.round(2).to_string())


def main(*args):
    quick = "--quick" in args
    hybrid = config_section("hybrid") if "--hybrid" in args else None  # the workflow's
    groups = [a for a in args if not a.startswith("--")] or ("real", "semi", "fig1", "fig1_ld")
    # GROUP=SCENARIO,SCENARIO: only those Fig 1 scenarios (e.g. fig1_ld=c100_h0.5,c100_h0.8)
    only = dict(g.split("=", 1) for g in groups if "=" in g)
    groups = [g.split("=", 1)[0] for g in groups]

    def pick(group):
        return only[group].split(",") if group in only else None

    candidates = {c: o for c, o in CANDIDATES.items() if not (quick and c in SLOW)}
    for a in args:
        if a.startswith("--start-eps="):
            for e in a.split("=", 1)[1].split(","):
                candidates[f"{START_EPS} {float(e):g}"] = dict(init="lasso",
                                                             start_eps=float(e))
    sources = {"real": ("real genes with strong cis-eQTLs", real_data),
               "semi": ("semi-synthetic, GEUVADIS LD", semi_synthetic),
               "fig1": ("Fig 1 (independent SNPs)",
                        lambda: fig1_data(scenarios=pick("fig1"))),
               "fig1_ld": ("Fig 1 under coalescent LD (replicate 1)",
                           lambda: fig1_data("results/fig1_ld/simulation/data", "rep1",
                                             pick("fig1_ld")))}
    table = pd.concat([run(sources[g][0], sources[g][1](), candidates, hybrid) for g in groups],
                      ignore_index=True)
    tag = "_".join(a.strip("-").replace("=", "-").replace(",", "-") for a in args)
    out = Path("results/benchmarks") / f"sparselmm_under_ld_{tag or 'all'}.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, sep="\t", index=False)
    report(table)
    print(f"\nper-fold rows: {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
