"""Tables of the workflow: summaries computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from sparselmm.pipeline import PANEL, summarise


def sim_table():
    # one scenario, 2 replicates x 2 folds, two methods
    rows = []
    values = {"sparselmm": [0.10, 0.20, 0.30, 0.40], "hybrid": [0.12, 0.22, 0.30, 0.44]}
    for method, vals in values.items():
        for k, v in enumerate(vals):
            rows.append(dict(n_causal=100, h2=0.5, replicate=k // 2 + 1, fold=k % 2,
                             method=method, r2_snp=v))
    return pd.DataFrame(rows)


def test_summary_uses_replicates_as_units():
    s = summarise(sim_table()).set_index("method")
    # replicate means: sparselmm 0.15, 0.35; hybrid 0.17, 0.37
    assert s.loc["hybrid", "mean"] == pytest.approx(0.27)
    assert s.loc["hybrid", "se"] == pytest.approx(np.std([0.17, 0.37], ddof=1) / math.sqrt(2))
    assert s.loc["hybrid", "diff"] == pytest.approx(0.02)
    assert s.loc["hybrid", "se_diff"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc["sparselmm", "diff"] == 0 and s.loc["hybrid", "units"] == "2 replicates"
    assert list(s.index) == ["sparselmm", "hybrid"]  # the plotting order


def test_summary_with_one_replicate_uses_folds():
    t = sim_table()
    t = t[t.replicate == 2]
    s = summarise(t).set_index("method")
    assert s.loc["hybrid", "units"] == "2 folds"
    assert s.loc["hybrid", "diff"] == pytest.approx(0.02)
    assert s.loc["hybrid", "se_diff"] == pytest.approx(0.02)  # diffs 0.00, 0.04


def test_real_summary_adds_the_panel():
    rows = [dict(phenotype=ph, fold=f, method=m, r2_snp=v)
            for ph, base in (("g1", 0.5), ("NA", 0.0))
            for f in range(3) for m, v in (("sparselmm", base), ("lasso", base + 0.01 * f))]
    s = summarise(pd.DataFrame(rows))
    panel = s[s.phenotype == PANEL].set_index("method")
    assert panel.loc["lasso", "units"] == "2 phenotypes"
    assert panel.loc["lasso", "mean"] == pytest.approx(0.26)
    assert panel.loc["lasso", "diff"] == pytest.approx(0.01)
    assert set(s.phenotype) == {"g1", "NA", PANEL}


def test_summary_without_the_baseline_leaves_differences_empty():
    t = sim_table()
    s = summarise(t[t.method == "hybrid"])
    assert s["diff"].isna().all() and len(s) == 1
