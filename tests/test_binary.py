"""Binary (case-control) phenotypes: coding, metrics against hand-computed values, a fold
of a binary trait, and the exported model's scale."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from sparselmm import plink
from sparselmm.cv import auc, binary_metrics, liability_r2, logistic_loglik, nagelkerke_r2
from sparselmm.export import final_fit
from sparselmm.fitting import fit_fold
from sparselmm.samples import SampleTables
from sparselmm.tables import prepare_phenotypes, read_sample_table
from sparselmm.traits import binary_codes, code_phenotypes, prevalence_of


# -- coding ------------------------------------------------------------------------------
def test_binary_codings_are_recognised_and_others_are_not():
    nan = np.nan
    np.testing.assert_array_equal(binary_codes([0, 1, nan, 1]), [0, 1, nan, 1])
    # PLINK: 1 control, 2 case, 0 and -9 missing
    np.testing.assert_array_equal(binary_codes([1, 2, 0, -9, 2, nan]),
                                  [0, 1, nan, nan, 1, nan])
    for values in ([0.5, 1.2, 3.0], [0, 1, 2, 3], [1, 1, nan], [0, 2, 0], [3, 4]):
        assert binary_codes(values) is None
    with pytest.raises(ValueError, match=r"pheno.tsv: phenotype 'bmi' is declared binary .* "
                                         r"holds 18.5, 22, 30"):
        binary_codes([18.5, 22.0, 30.0], "bmi", "pheno.tsv", declared=True)
    with pytest.raises(ValueError, match="'t2d' has one class only"):
        binary_codes([1, 1, 0, -9], "t2d", "pheno.tsv", declared=True)


def test_a_declared_list_is_exactly_the_binary_phenotypes():
    pheno = pd.DataFrame({"a": [0.0, 1, 1, 0], "b": [1.0, 2, 2, 0], "c": [0.1, 0.2, 0.3, 0.4]})
    coded, names = code_phenotypes(pheno)
    assert names == {"a", "b"}
    np.testing.assert_array_equal(coded["b"], [0, 1, 1, np.nan])
    coded, names = code_phenotypes(pheno, ["b"])
    assert names == {"b"} and coded["a"].tolist() == [0, 1, 1, 0]
    assert prevalence_of(None, "b") is None and prevalence_of(0.05, "b") == 0.05
    assert prevalence_of({"b": 0.2}, "b") == 0.2 and prevalence_of({"b": 0.2}, "a") is None


def test_a_psam_case_control_trait_is_coded_and_counted(tmp_path):
    G = np.zeros((30, 2), dtype=np.int8)
    G[::2] = 1
    plink.write_bed(tmp_path / "g", G, [f"s{i}" for i in range(30)], ["rs1", "rs2"])
    status = ["2"] * 10 + ["1"] * 17 + ["0", "-9", "NA"]
    height = [f"{150 + i}" for i in range(30)]
    (tmp_path / "p.psam").write_text("#FID\tIID\tSEX\tT2D\theight\n" + "".join(
        f"s{i}\ts{i}\t1\t{s}\t{h}\n" for i, (s, h) in enumerate(zip(status, height))))
    log = io.StringIO()
    samples = plink.read_fam(tmp_path / "g")
    names = prepare_phenotypes(tmp_path / "p.psam", samples, "all", 3, tmp_path / "out.tsv",
                               log=log)
    assert names == ["T2D", "height"]
    out = pd.read_csv(tmp_path / "out.tsv", sep="\t")
    assert out["T2D"].iloc[:27].tolist() == [1.0] * 10 + [0.0] * 17
    assert out["T2D"].iloc[27:].isna().all() and out["height"].iloc[-1] == 179
    assert "'T2D' is binary: 10 cases, 17 controls" in log.getvalue()
    assert read_sample_table(tmp_path / "p.psam")["T2D"].isna().sum() == 2  # -9, NA


# -- metrics against hand-computed values -----------------------------------------------
def test_auc_counts_ordered_pairs_and_ties_half():
    # cases 0.35, 0.8 against controls 0.1, 0.4: 3 of 4 pairs ordered
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # one tie (0.4 vs 0.4) counts half: (1 + 0.5 + 1 + 1) / 4
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]) == 0.875
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = np.round(rng.normal(size=200) + y, 1)  # ties
    assert auc(y.astype(float), s) == pytest.approx(roc_auc_score(y, s), abs=1e-15)
    assert np.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_liability_r2_by_hand():
    # P = K = 0.1: Dempster-Lerner, R2_o K (1 - K) / z^2 with t = 1.281552, z = 0.1754983
    assert liability_r2(0.05, 0.1, 0.1) == pytest.approx(0.05 * 0.09 / 0.1754983**2, rel=1e-6)
    # K = 0.01, P = 0.5 (a balanced case-control sample of a rare disease), by hand:
    # t = 2.326348, z = 0.02665214, m = z / K = 2.665214,
    # C = (0.0099 / z^2) * (0.0099 / 0.25) = 13.93701 * 0.0396 = 0.5519057,
    # a = m (P - K) / (1 - K) = 2.665214 * 0.49 / 0.99 = 1.319147,
    # theta = a (a - t) = 1.319147 * (1.319147 - 2.326348) = -1.328648,
    # R2_l = 0.04 C / (1 + 0.04 theta C) = 0.02207623 / 0.9706685 = 0.02274333
    assert liability_r2(0.04, 0.01, 0.5) == pytest.approx(0.02274333, rel=1e-5)
    assert np.isnan(liability_r2(0.1, 0.0, 0.5))


def test_logistic_likelihood_and_nagelkerke_against_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.3 + x @ [1.0, -0.5])))).astype(float)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x, y)
    prob = lr.predict_proba(x)[:, 1]
    ll_sk = float(np.sum(y * np.log(prob) + (1 - y) * np.log(1 - prob)))
    ll = logistic_loglik(y, np.column_stack([np.ones(300), x]))
    assert ll == pytest.approx(ll_sk, abs=1e-6)
    q = y.mean()
    l0 = 300 * (q * np.log(q) + (1 - q) * np.log(1 - q))  # intercept only, closed form
    cs = 1 - np.exp(2 * (l0 - ll) / 300)
    assert nagelkerke_r2(y, x) == pytest.approx(cs / (1 - np.exp(2 * l0 / 300)), rel=1e-8)


def test_binary_metrics_of_a_prediction():
    rng = np.random.default_rng(2)
    n = 2000
    g = rng.normal(size=n)
    liability = 0.6 * g + 0.8 * rng.normal(size=n)  # h2 on the liability scale 0.36
    y = (liability > norm.isf(0.2)).astype(float)  # prevalence 0.2
    cov = np.full(n, y.mean())
    m = binary_metrics(y, cov + 0.1 * g, cov, prevalence=0.2)
    assert m["auc"] == m["auc_snp"] == pytest.approx(auc(y, g))
    # the score carries all the genetic liability: R^2 on the liability scale ~ 0.36
    assert m["r2_liability"] == pytest.approx(0.36, abs=0.05)
    assert 0 < m["nagelkerke_r2"] < 1 and m["prevalence"] == 0.2


# -- a fold and a final fit of a binary trait -------------------------------------------
@pytest.fixture
def disease(tmp_path):
    rng = np.random.default_rng(3)
    n, p = 240, 150
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    iids = [f"i{k}" for k in range(n)]
    plink.write_bed(tmp_path / "g", G, iids, [f"rs{j}" for j in range(p)])
    Xs = (G[:, :3] - G[:, :3].mean(0)) / G[:, :3].std(0)
    liability = Xs @ [0.8, -0.6, 0.5] + rng.normal(size=n)
    status = np.where(liability > np.quantile(liability, 0.7), 2, 1).astype(float)
    status[:6] = 0  # PLINK's missing
    pd.DataFrame({"iid": iids, "cc": status, "q": liability}).to_csv(
        tmp_path / "pheno.tsv", sep="\t", index=False)
    folds = np.arange(n) % 3
    pd.DataFrame({"iid": iids, "cc": folds, "q": folds}).to_csv(tmp_path / "folds.tsv",
                                                               sep="\t", index=False)
    return tmp_path


def test_a_binary_trait_is_fitted_as_0_1_and_scored_by_auc(disease):
    d = disease
    fits = fit_fold(bed=d / "g", phenotypes=d / "pheno.tsv", names=["cc", "q"],
                    folds=d / "folds.tsv", fold=1, method="sparselmm",
                    transform="rank_inverse_normal", prevalence={"cc": 0.05})
    pred, m = fits.predictions, fits.metrics.set_index("phenotype")
    # the binary trait is 0/1 (PLINK 0 missing), never transformed; the other is
    assert set(pred.loc[pred.phenotype == "cc", "y"]) == {0.0, 1.0}
    assert (pred.phenotype == "cc").sum() == 78  # 80 in fold 1, 2 of them missing
    assert pred.loc[pred.phenotype == "q", "y"].abs().max() < 3.5
    assert list(m.columns[-5:]) == ["auc", "auc_snp", "nagelkerke_r2", "r2_liability",
                                    "prevalence"]
    assert m.loc["cc", "auc"] > 0.7 and m.loc["cc", "prevalence"] == 0.05
    assert m.loc["cc", "r2_liability"] > 0 and m.loc["q", ["auc", "prevalence"]].isna().all()
    # declared quantitative: rank-transformed as before, no AUC
    fits = fit_fold(bed=d / "g", phenotypes=d / "pheno.tsv", names=["cc"], folds=d / "folds.tsv",
                    fold=1, method="sparselmm", transform="rank_inverse_normal", binary=[])
    assert "auc" not in fits.metrics.columns and fits.predictions["y"].nunique() > 2


def test_the_exported_model_says_its_trait_and_scale(disease):
    d = disease
    _, info = final_fit(bed=d / "g", phenotypes=d / "pheno.tsv", phenotype="cc", covariates=None,
                        method="lasso", options={"n_alphas": 5, "cv": 3},
                        transform="rank_inverse_normal", out=d / "m", log=io.StringIO())
    saved = json.loads((d / "m.json").read_text())
    assert saved["trait"] == "binary" and saved["phenotype_transform"] == "none (binary)"
    assert "0/1" in saved["scale"] and "not log-odds" in saved["scale"]
    status = pd.read_csv(d / "pheno.tsv", sep="\t")["cc"]
    assert saved["cases"] == (status == 2).sum() and saved["controls"] == (status == 1).sum()
    assert saved["cases"] + saved["controls"] == 234
    _, _, y, _ = SampleTables(d / "g", d / "pheno.tsv")("cc", "rank_inverse_normal")
    assert set(y) == {0.0, 1.0}
    assert saved["prevalence"] == pytest.approx(saved["cases"] / 234)
