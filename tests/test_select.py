"""auto: the method chosen by inner cross-validation within the training samples."""

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_small

from sparselmm import plink
from sparselmm.cv import assign_folds, write_folds
from sparselmm.fitting import fit_fold
from sparselmm.methods import make_model
from sparselmm.penalised import ProjectedElasticNetCV, ProjectedLassoCV
from sparselmm.select import AutoSelectCV, choose, fold_errors_at_others_choice
from sparselmm.tables import read_results


def test_chooses_the_candidate_with_the_lower_inner_error_and_refits_it():
    G, y, Z, causal, _ = simulate_small(n=300, p=500, n_causal=1, h2=0.6, seed=3)
    auto = AutoSelectCV(candidates=["ridge", "sparselmm"], cv=3, seed=1).fit(G, y, Z)
    # one causal SNP: the sparse model predicts it, ridge spreads it over 500 SNPs
    assert auto.chosen_ == "sparselmm" and auto.cv_mse_["sparselmm"] < auto.cv_mse_["ridge"]
    # the inner errors are those of fits on the inner folds, by hand
    folds = assign_folds(len(y), 3, 1)
    by_hand = []
    for k in range(3):
        tr, te = folds != k, folds == k
        m = make_model("ridge").fit(G[tr], y[tr], Z[tr])
        by_hand.append(np.mean((y[te] - m.predict(G[te], Z[te])) ** 2))
    assert auto.cv_mse_["ridge"] == pytest.approx(np.mean(by_hand), rel=1e-10)
    # the exported state is the refitted model's
    alone = make_model("sparselmm").fit(G, y, Z)
    np.testing.assert_allclose(auto.coef_, alone.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(auto.predict(G, Z), alone.predict(G, Z), rtol=1e-12)
    assert auto.prunable_ and np.array_equal(auto.pip_, alone.pip_)


def test_logistic_candidates_are_skipped_for_a_quantitative_phenotype():
    G, y, Z, _, _ = simulate_small(n=150, p=100, seed=4)
    auto = AutoSelectCV(candidates=["top1", "sparselmm_logistic"], cv=2).fit(G, y, Z)
    assert auto.chosen_ == "top1" and set(auto.cv_mse_) == {"top1"}
    with pytest.raises(ValueError, match="no candidate"):
        AutoSelectCV(candidates=["sparselmm_logistic"], cv=2).fit(G, y, Z)
    with pytest.raises(ValueError, match="cannot choose 'oracle'"):
        AutoSelectCV(candidates=["oracle"]).fit(G, y, Z)


def test_a_planted_leak_in_the_test_fold_changes_nothing(tmp_path):
    """The test fold's phenotype is replaced by a copy of ridge's predictions of it,
    from a fit that saw those samples: were the choice to see the test fold, ridge
    would win there. The choice, the fit and the predictions are unchanged; only the
    held-out accuracy moves."""
    G, y, Z, _, _ = simulate_small(n=200, p=300, n_causal=2, h2=0.5, seed=5)
    iids = [f"s{i}" for i in range(len(y))]
    plink.write_bed(tmp_path / "g", G, iids, [f"rs{j}" for j in range(G.shape[1])])
    write_folds(tmp_path / "folds.tsv", iids, 5, 1, ["y"])
    cov = pd.DataFrame(Z, columns=["c1", "c2", "c3"]).assign(iid=iids)
    cov.to_csv(tmp_path / "cov.tsv", sep="\t", index=False)
    options = {"candidates": ["sparselmm", "ridge", "top1"], "cv": 3}

    def run(values):
        pd.DataFrame({"iid": iids, "y": values}).to_csv(tmp_path / "pheno.tsv", sep="\t",
                                                         index=False)
        return fit_fold(bed=tmp_path / "g", phenotypes=tmp_path / "pheno.tsv", names=["y"],
                        folds=tmp_path / "folds.tsv", fold=0, method="auto", options=options,
                        covariates=tmp_path / "cov.tsv")

    honest = run(y)
    test = pd.read_csv(tmp_path / "folds.tsv", sep="\t")["y"].to_numpy() == 0
    leaky = make_model("ridge").fit(G, y, Z).predict(G, Z)
    planted = np.where(test, leaky, y)
    leaked = run(planted)
    assert honest.metrics["chosen"].iloc[0] == leaked.metrics["chosen"].iloc[0] != "ridge"
    np.testing.assert_array_equal(honest.predictions["pred"], leaked.predictions["pred"])
    # a choice made on the (planted) test fold would have been ridge
    seen = {m: np.mean((planted[test] - make_model(m).fit(G[~test], y[~test], Z[~test])
                        .predict(G[test], Z[test])) ** 2) for m in options["candidates"]}
    assert min(seen, key=seen.get) == "ridge"


def test_each_fold_is_scored_at_the_penalty_the_other_folds_choose():
    nan = np.nan
    mse = np.array([[4.0, 1.0, 3.0, 9.0],
                    [4.0, 2.0, 1.0, nan],  # stopped early: penalty 3 is never chosen
                    [4.0, 3.0, 1.5, 0.0]])
    # fold 0: others' means 4, 2.5, 1.25 -> penalty 2; fold 1: 4, 2, 2.25 -> penalty 1;
    # fold 2: 4, 1.5, 2 -> penalty 1
    np.testing.assert_array_equal(fold_errors_at_others_choice(mse), [3.0, 2.0, 3.0])


def test_a_candidate_with_its_own_cv_is_fitted_once_on_autos_folds(monkeypatch):
    G, y, Z, _, _ = simulate_small(n=240, p=300, n_causal=3, h2=0.5, seed=6)
    options = {"lasso": {"n_alphas": 12, "cv": 7, "seed": 5}}  # auto's cv and seed win
    fits = []
    real_fit = ProjectedElasticNetCV.fit

    def counted(self, *args, **kwargs):
        fits.append((self.cv, self.seed))
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(ProjectedElasticNetCV, "fit", counted)
    auto = AutoSelectCV(candidates=["top1", "lasso"], options=options, cv=3, seed=1).fit(G, y, Z)
    assert fits == [(3, 1)]  # one Lasso fit, on auto's folds: no nested CV around it
    alone = ProjectedLassoCV(n_alphas=12, cv=3, seed=1).fit(G, y, Z)
    np.testing.assert_array_equal(auto.cv_mse_["lasso"], np.mean(
        fold_errors_at_others_choice(alone.mse_path_)))
    # top1 is cross-validated on the same folds as the Lasso's CV used
    folds = assign_folds(len(y), 3, 1)
    by_hand = [np.mean((y[folds == k] - make_model("top1").fit(G[folds != k], y[folds != k],
                        Z[folds != k]).predict(G[folds == k], Z[folds == k])) ** 2)
               for k in range(3)]
    assert auto.cv_mse_["top1"] == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert auto.chosen_ == "lasso"  # three causal SNPs: the Lasso over one SNP
    np.testing.assert_array_equal(auto.coef_, alone.coef_)  # the one fit is the refit


def test_one_se_rule_keeps_the_first_candidate_unless_another_is_clearly_better():
    errors = {"sparselmm": [1.0, 2.0, 3.0, 2.0], "lasso": [0.9, 1.9, 2.9, 2.2]}
    # the Lasso is lower on average (1.975 vs 2.0) by less than one paired SE (0.075)
    assert choose(errors, "lowest") == "lasso"
    assert choose(errors, "one_se") == "sparselmm"
    clear = {"sparselmm": [1.0, 2.0, 3.0, 2.0], "lasso": [0.8, 1.8, 2.9, 1.8]}
    assert choose(clear, "one_se") == "lasso"  # lower by 0.175 +- 0.025
    G, y, Z, _, _ = simulate_small(n=150, p=100, seed=4)
    with pytest.raises(ValueError, match="rule must be one of lowest, one_se"):
        AutoSelectCV(candidates=["top1"], rule="min").fit(G, y, Z)


def test_auto_beside_its_candidates_reuses_their_fits_and_predicts_the_same(tmp_path):
    """auto reading the Lasso's inner-CV errors and the chosen candidate's predictions
    from their own fits of the fold gives the predictions, choices and metrics of auto
    fitting everything itself (a binary phenotype's too); a candidate it does not share
    is refitted."""
    from sparselmm.outputs import write_tsv

    rng = np.random.default_rng(3)
    G, y1, Z, _, _ = simulate_small(n=150, p=200, n_causal=1, h2=0.6, seed=11)
    X = G.astype(float) - G.mean(axis=0)
    y2 = X[:, :60] @ rng.normal(0, 0.15, 60) + rng.normal(size=len(y1))  # many small
    iids = [f"s{i}" for i in range(len(y1))]
    plink.write_bed(tmp_path / "g", G, iids, [f"rs{j}" for j in range(G.shape[1])])
    names = ["sparse", "dense", "cc"]
    write_folds(tmp_path / "folds.tsv", iids, 5, 1, names)
    pd.DataFrame(Z, columns=["c1", "c2", "c3"]).assign(iid=iids).to_csv(
        tmp_path / "cov.tsv", sep="\t", index=False)
    cc = (y1 > np.median(y1)).astype(int)
    pd.DataFrame({"iid": iids, "sparse": y1, "dense": y2, "cc": cc}).to_csv(
        tmp_path / "pheno.tsv", sep="\t", index=False)
    options = {"lasso": {"n_alphas": 10, "cv": 3}, "sparselmm": {}}
    auto = {"candidates": ["sparselmm", "lasso"], "cv": 3, "rule": "lowest",
            "options": options}
    kw = dict(bed=tmp_path / "g", phenotypes=tmp_path / "pheno.tsv", names=names,
              folds=tmp_path / "folds.tsv", fold=2, covariates=tmp_path / "cov.tsv")
    files = {}
    for cand in auto["candidates"]:
        fits = fit_fold(**kw, method=cand, options=options[cand])
        files[cand] = {part: tmp_path / f"{cand}.{part}.tsv"
                       for part in ("predictions", "metrics", "inner")}
        for part in files[cand]:
            write_tsv(getattr(fits, part), files[cand][part], float_format="%.17g")
    assert len(read_results(files["lasso"]["inner"])) == 3 * 3  # 3 inner folds each
    assert read_results(files["sparselmm"]["inner"]).empty
    files["sparselmm"]["inner"] = None
    alone = fit_fold(**kw, method="auto", options=auto)
    for shared in (files, {"lasso": files["lasso"]}):
        reused = fit_fold(**kw, method="auto", options=auto, shared=shared)
        pd.testing.assert_frame_equal(reused.predictions, alone.predictions, rtol=1e-12)
        pd.testing.assert_frame_equal(reused.metrics, alone.metrics, rtol=1e-12)
    assert set(alone.metrics["chosen"]) == {"sparselmm", "lasso"}  # both paths taken
    assert alone.metrics.set_index("phenotype").loc["cc", "auc"] > 0.5
    with pytest.raises(ValueError, match="only auto reuses"):
        fit_fold(**kw, method="lasso", options=options["lasso"], shared=files)
    other = fit_fold(**{**kw, "fold": 1}, method="lasso", options=options["lasso"])
    write_tsv(other.predictions, tmp_path / "other.tsv")
    with pytest.raises(ValueError, match="not a fit of fold 2"):
        fit_fold(**kw, method="auto", options=auto,
                 shared={"lasso": {**files["lasso"], "predictions": tmp_path / "other.tsv"}})


def test_select_takes_given_inner_errors_and_checks_them():
    G, y, Z, _, _ = simulate_small(n=120, p=80, n_causal=2, h2=0.5, seed=2)
    lasso = {"n_alphas": 8, "cv": 3}
    full = AutoSelectCV(candidates=["top1", "lasso"], options={"lasso": lasso}, cv=3,
                        rule="lowest").fit(G, y, Z)
    errors = fold_errors_at_others_choice(
        ProjectedLassoCV(**lasso).fit(G, y, Z).mse_path_)
    given = AutoSelectCV(candidates=["top1", "lasso"], options={"lasso": lasso}, cv=3,
                         rule="lowest").select(G, y, Z, errors={"lasso": errors})
    assert given.chosen_ == full.chosen_ and given.cv_mse_ == pytest.approx(full.cv_mse_)
    assert "lasso" not in given._fitted  # not fitted again
    with pytest.raises(ValueError, match="need 3 finite inner-fold errors"):
        given.select(G, y, Z, errors={"lasso": errors[:2]})
    with pytest.raises(ValueError, match="usable candidate"):
        given.select(G, y, Z, errors={"ridge": errors})
