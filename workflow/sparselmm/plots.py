"""Figures (matplotlib only). Methods keep one colour everywhere."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .methods import REGISTRY  # noqa: E402

COLOURS = {m.name: m.colour for m in REGISTRY}
LABELS = {m.name: m.label for m in REGISTRY}
METRIC_LABELS = {
    "r2": "held-out $R^2$ (full prediction)",
    "r2_snp": "held-out $R^2$ of the SNP part\n(after training-fold covariate fit)",
    "auc": "held-out AUC (full prediction)",
    "r2_liability": "held-out $R^2$ of the SNP part\non the liability scale",
}


def _binary_only(table):
    """Every row is of a binary phenotype (its metrics hold an AUC)."""
    return "auc" in table.columns and bool(table["auc"].notna().all())


def _boxes(ax, table, methods, metric):
    fitted = [m for m in methods if m != "oracle"]
    data = [table.loc[table["method"] == m, metric].to_numpy() for m in fitted]
    pos = np.arange(len(fitted))
    bp = ax.boxplot(data, positions=pos, widths=0.6, patch_artist=True, showfliers=False)
    for patch, m in zip(bp["boxes"], fitted):
        patch.set_facecolor(COLOURS.get(m, "grey"))
        patch.set_alpha(0.55)
    for median in bp["medians"]:
        median.set_color("black")
    rng = np.random.default_rng(0)
    for k, (vals, m) in enumerate(zip(data, fitted)):
        ax.scatter(k + rng.uniform(-0.12, 0.12, vals.size), vals, s=9,
                   color=COLOURS.get(m, "grey"), zorder=3, edgecolor="none")
    if "oracle" in methods:
        o = table.loc[table["method"] == "oracle", metric]
        if len(o):
            ax.axhline(o.mean(), color=COLOURS["oracle"], ls="--", lw=1.2)
    ax.set_xticks(pos, [LABELS.get(m, m) for m in fitted], rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.grid(axis="y", alpha=0.3)


def fig1_simulation(table, methods, metric=None):
    """3 x 3 grid (causal SNPs x h2) of held-out R^2 per method over folds (``metric``,
    default ``r2``; for a disease, every row binary, ``auc``).

    The dashed line is the oracle's mean (the true effects), the best achievable
    prediction.
    """
    metric = metric or ("auc" if _binary_only(table) else "r2")
    causal = sorted(table["n_causal"].unique())
    h2s = sorted(table["h2"].unique())
    fig, axes = plt.subplots(len(causal), len(h2s), figsize=(3.4 * len(h2s), 3.0 * len(causal)),
                             squeeze=False, sharex=True)
    for r, c in enumerate(causal):
        for k, h in enumerate(h2s):
            ax = axes[r, k]
            sub = table[(table["n_causal"] == c) & (table["h2"] == h)]
            _boxes(ax, sub, methods, metric)
            if r == 0:
                ax.set_title(f"SNP heritability $h^2$ = {h:g}")
            if k == 0:
                ax.set_ylabel(f"{c} causal SNP{'s' if c > 1 else ''}\n\n{METRIC_LABELS[metric]}",
                              fontsize=8)
    n_rep = table["replicate"].nunique() if "replicate" in table else 1
    n_fold = table["fold"].nunique()
    fig.suptitle(f"Fig 1. Simulation: {n_rep} replicate(s) x {n_fold}-fold CV; "
                 "dashed line = oracle (true effects)", fontsize=10)
    fig.tight_layout()
    return fig


MAX_BARS = 30  # more phenotypes than this: scatter plots and distributions, not bars


def _snp_set(table):
    """'12,345 SNPs', or the range of SNPs per phenotype when they differ (cis windows)."""
    p = table.groupby("phenotype")["p"].first()
    if p.nunique() == 1:
        return f"{int(p.iloc[0]):,} SNPs"
    return f"{int(p.min()):,}-{int(p.max()):,} SNPs per phenotype (median {int(p.median()):,})"


def fig2_real(table, methods, baseline="sparselmm"):
    """Held-out R^2 per phenotype and method: fold means as bars, folds as points.

    Top: full prediction; bottom: SNP part after the training-fold covariate
    fit. Phenotypes are ordered by the best method's mean SNP R^2. When every
    phenotype is binary: AUC of the full prediction (top, chance at 0.5) and the
    SNP part's R^2 on the liability scale (bottom). With more than
    :data:`MAX_BARS` phenotypes: :func:`fig2_many` instead.
    """
    methods = [m for m in methods if m in set(table["method"])]
    if table["phenotype"].nunique() > MAX_BARS:
        return fig2_many(table, methods, baseline)
    binary = _binary_only(table)
    panels = ("auc", "r2_liability") if binary else ("r2", "r2_snp")
    order = (table.groupby("phenotype")[panels[1]].mean().sort_values(ascending=False).index)
    x = np.arange(len(order))
    width = 0.8 / max(len(methods), 1)
    fig, axes = plt.subplots(2, 1, figsize=(max(7, 0.55 * len(order) + 2), 7.5), sharex=True)
    for ax, metric in zip(axes, panels):
        for k, m in enumerate(methods):
            sub = table[table["method"] == m].groupby("phenotype")[metric]
            means = sub.mean().reindex(order)
            off = x - 0.4 + width * (k + 0.5)
            base = 0.5 if metric == "auc" else 0.0  # AUC bars rise from chance
            ax.bar(off, means.to_numpy() - base, width, bottom=base, color=COLOURS.get(m, "grey"),
                   alpha=0.6, label=LABELS.get(m, m))
            for i, ph in enumerate(order):
                vals = table[(table["method"] == m) & (table["phenotype"] == ph)][metric]
                ax.scatter(np.full(len(vals), off[i]), vals, s=7, color="black", zorder=3,
                           edgecolor="none")
        ax.axhline(0.5 if metric == "auc" else 0, color="grey", lw=0.8)
        if metric == "auc":
            ax.set_ylim(bottom=min(0.4, float(np.nanmin(table[metric]))) - 0.02)
        ax.set_ylabel(METRIC_LABELS[metric], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(frameon=False, ncol=len(methods), fontsize=9)
    axes[1].set_xticks(x, order, rotation=60, ha="right", fontsize=7)
    axes[1].set_xlabel("phenotype")
    n_fold = table["fold"].nunique()
    n = int(table["n_train"].iloc[0] + table["n_test"].iloc[0])
    fig.suptitle(f"Fig 2. Real data: {n} samples, {_snp_set(table)}, {n_fold}-fold CV "
                 "(bars: fold means; points: folds)", fontsize=10)
    fig.tight_layout()
    return fig


def fig2_many(table, methods, baseline="sparselmm"):
    """Many phenotypes (a transcriptome): each phenotype's CV-mean held-out R^2 of the
    SNP part for every method against ``baseline`` (one panel per method, identity
    line; points above it: the method predicts that phenotype better), and the
    distribution of the per-phenotype R^2 per method (last panel, log-scaled
    fraction of phenotypes above each R^2)."""
    means = table.groupby(["phenotype", "method"])["r2_snp"].mean().unstack("method")
    if baseline not in means.columns:
        baseline = methods[0]
    others = [m for m in methods if m != baseline]
    n_pan = len(others) + 1
    cols = min(n_pan, 3)
    rows = -(-n_pan // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), squeeze=False)
    axes = axes.ravel()
    lo = min(-0.1, float(np.nanmin(means.to_numpy())))
    hi = max(0.2, float(np.nanmax(means.to_numpy())))
    x = means[baseline]
    for ax, m in zip(axes, others):
        y = means[m]
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.axhline(0, color="grey", lw=0.5, ls=":")
        ax.axvline(0, color="grey", lw=0.5, ls=":")
        ax.scatter(x, y, s=6, alpha=0.6, color=COLOURS.get(m, "grey"), edgecolor="none")
        ok = x.notna() & y.notna()
        above, below = int((y[ok] > x[ok]).sum()), int((y[ok] < x[ok]).sum())
        ax.set_title(f"{LABELS.get(m, m)}: better on {above}, worse on {below}", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"{LABELS.get(baseline, baseline)} held-out $R^2$ (SNP part)", fontsize=8)
        ax.set_ylabel(f"{LABELS.get(m, m)} held-out $R^2$", fontsize=8)
    ax = axes[len(others)]
    grid = np.linspace(0, hi, 200)
    for m in methods:
        v = means[m].dropna().to_numpy()
        ax.plot(grid, [(v > g).mean() for g in grid], color=COLOURS.get(m, "grey"),
                label=LABELS.get(m, m), lw=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("held-out $R^2$ of the SNP part", fontsize=8)
    ax.set_ylabel("fraction of phenotypes above", fontsize=8)
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.3)
    for extra in axes[n_pan:]:
        extra.set_visible(False)
    n_fold = table["fold"].nunique()
    fig.suptitle(f"Fig 2. {len(means)} phenotypes, {_snp_set(table)}, {n_fold}-fold CV: "
                 "per-phenotype mean held-out $R^2$", fontsize=9)
    fig.tight_layout()
    return fig
