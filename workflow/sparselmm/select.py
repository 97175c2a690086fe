"""``auto``: choose a method per phenotype by cross-validation inside the training data.

FUSION trains several models per gene and keeps the best by cross-validation; done by
hand on the workflow's outer folds, the choice sees the very samples it is then scored
on, and the reported accuracy of "the best method" is optimistic. :class:`AutoSelectCV`
makes the choice a method of its own: given only the training samples of an outer fold,
it splits them into inner folds, fits every candidate on each inner training part,
scores its predictions of the inner held-out part, and refits the chosen candidate on
all the training samples: the first one, unless another's mean held-out squared error
is lower by more than one paired standard error (:func:`choose`). Its outer-CV accuracy
is then an honest estimate of the whole procedure (choice included), and the final
model exported for a phenotype is the chosen method's.

For a binary phenotype the squared error of the predicted risk (the Brier score) ranks
linear models of the 0/1 phenotype and logistic ones alike; candidates that fit binary
phenotypes only are skipped for a quantitative one.

A candidate that chooses its own penalty by inner CV (the Lasso, the elastic net) is not
cross-validated a second time around that CV: it is fitted once on all the training
samples with auto's inner folds, and its error on each fold is read from that CV at the
penalty the other folds choose (:func:`fold_errors_at_others_choice`). Its cost inside
auto is then its own cost alone.
"""

import numpy as np

from ._base import LinearPredictor
from ._design import PreparedGenotypes, take_rows
from .cv import assign_folds
from .methods import make_model
from .methods import method as registry_row

# what the chosen model's public state is made of (``LinearPredictor._finish``)
STATE = ("coef_", "intercept_", "covariate_coef_", "x_mean_", "x_scale_", "n_features_in_",
         "n_covariates_", "n_missing_", "active_", "_b", "_w", "pip_", "converged_")


def fold_errors_at_others_choice(mse_path):
    """Each fold's held-out error at the penalty chosen without its own error.

    ``mse_path`` is (folds x penalties), NaN where a fold's path stopped early. For
    fold ``k`` the penalty is the one with the lowest mean error over the other folds,
    among the penalties every fold reached; the answer is fold ``k``'s error there.
    Reading each fold's error at the penalty chosen on all folds (glmnet's ``cvm`` at
    ``lambda.min``) would let a fold's own error pick its penalty, an optimism the
    candidates without a penalty do not get; this is the inner loop of nested CV, with
    the inner fits shared.
    """
    mse_path = np.asarray(mse_path, dtype=float)
    reached = ~np.isnan(mse_path).any(axis=0)
    out = np.empty(mse_path.shape[0])
    for k in range(mse_path.shape[0]):
        others = np.delete(mse_path, k, axis=0).mean(axis=0)
        out[k] = mse_path[k, int(np.argmin(np.where(reached, others, np.inf)))]
    return out


RULES = ("lowest", "one_se")


def choose(errors, rule="one_se"):
    """The candidate chosen from ``{candidate: per-fold errors}`` (the same folds, in
    the candidates' order). ``"lowest"``: the lowest mean error. ``"one_se"``: the
    first candidate whose mean error is within one paired standard error of the lowest
    (glmnet's ``lambda.1se`` rule, applied to the choice of method): another candidate
    is chosen over the first only when it is better by more than the noise of the
    inner folds."""
    means = {c: float(np.mean(e)) for c, e in errors.items()}
    best = min(means, key=means.get)
    if rule == "lowest":
        return best
    for c, e in errors.items():
        diff = np.asarray(e) - np.asarray(errors[best])
        se = float(np.std(diff, ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
        if diff.mean() <= se:
            return c
    return best


class AutoSelectCV(LinearPredictor):
    """The candidate method chosen by inner-CV prediction error, refitted.

    Parameters
    ----------
    candidates : list of str
        Methods of the registry (:mod:`sparselmm.methods`) to choose among.
    options : dict, optional
        ``{method: options}`` of the candidates (their config sections).
    cv : int, default=5
        Inner folds, split from the training samples only (seeded by ``seed``).
    rule : {"one_se", "lowest"}, default="one_se"
        How the inner errors choose (:func:`choose`): the first candidate unless another
        is better by more than one paired standard error, or the lowest mean error.

    Attributes
    ----------
    chosen_ : str
        The method chosen.
    cv_mse_ : dict
        Mean inner held-out squared error of each candidate fitted (for a candidate with
        its own inner CV, from that CV: module docstring).
    model_ : the chosen method's estimator, fitted on every training sample
    coef_, intercept_, covariate_coef_, pip_ (where it has them), ... : the chosen
        model's, so that export and scoring read it as that method's model

    Notes
    -----
    The inner folds are the same for every candidate (paired comparison). The cost
    is ``cv`` fits of each candidate on about ``(cv - 1) / cv`` of the samples, plus the
    refit of the chosen one; a candidate with its own inner CV (the Lasso, the elastic
    net) is fitted once instead, with ``cv`` and ``seed`` set to auto's, so that its
    folds are auto's; that fit is its refit.

    :meth:`fit` is :meth:`select` (inner CV, choice) then :meth:`refit`. The workflow
    runs them apart when the candidates are also fitted as methods of their own
    (:func:`sparselmm.methods.shared_with_auto`): ``select`` reads the Lasso's inner
    errors from the Lasso's fit of the fold, and the chosen candidate's predictions
    are read from its fit instead of a refit (:func:`sparselmm.fitting.score_shared_auto`).
    """

    def __init__(self, *, candidates=("sparselmm", "lasso"), options=None, cv=5, seed=0,
                 rule="one_se"):
        self.candidates = candidates
        self.options = options
        self.cv = cv
        self.seed = seed
        self.rule = rule

    def _check_params(self):
        cands = list(self.candidates)
        if not cands or len(set(cands)) != len(cands):
            raise ValueError(f"candidates must be distinct methods, got {cands}")
        for name in cands:
            row = registry_row(name)  # ValueError naming the choices if unknown
            if row.needs_truth or name == "auto":
                raise ValueError(f"auto cannot choose {name!r} (it needs the true effects "
                                 f"or is auto itself)")
        if int(self.cv) < 2:
            raise ValueError(f"cv must be at least 2, got {self.cv}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")

    def fit(self, X, y, Z=None):
        """Choose by inner CV (:meth:`select`) and refit the chosen candidate
        (:meth:`refit`) on every training sample."""
        X = X if isinstance(X, PreparedGenotypes) else PreparedGenotypes(X, Z)
        return self.select(X, y).refit(X, y)

    def select(self, X, y, Z=None, errors=None):
        """The inner CV and the choice (``chosen_``, ``cv_mse_``), without the refit.

        ``errors``: ``{candidate: error on each of auto's inner folds}`` measured
        elsewhere (the workflow's own fit of a candidate with its own inner CV, run with
        auto's ``cv`` and ``seed``: :func:`fold_errors_at_others_choice` of its CV); those
        candidates are not fitted here.
        """
        self._check_params()
        X = X if isinstance(X, PreparedGenotypes) else PreparedGenotypes(X, Z)
        G, Zc = X.G, X.Z
        y = np.asarray(y, dtype=float)
        binary = bool(np.all((y == 0) | (y == 1)))
        usable = [c for c in self.candidates if binary or not registry_row(c).binary_only]
        if not usable:
            raise ValueError(f"no candidate of {list(self.candidates)} fits a quantitative "
                             f"phenotype (they are logistic models)")
        given = {c: np.asarray(e, dtype=float) for c, e in (errors or {}).items()}
        for c, e in given.items():
            if c not in usable or e.shape != (int(self.cv),) or not np.isfinite(e).all():
                raise ValueError(f"errors of {c!r}: need {int(self.cv)} finite inner-fold "
                                 f"errors of a usable candidate of {usable}, got {e.tolist()}")
        options = dict(self.options or {})
        folds = assign_folds(y.size, int(self.cv), self.seed)
        kept = [k for k in range(int(self.cv))
                # an inner training part of one class: no candidate can fit it
                if not (binary and np.ptp(y[folds != k]) == 0)]
        # candidates with their own inner CV, fitted once on auto's folds
        own_cv = {c: {**(options.get(c) or {}), "cv": int(self.cv), "seed": self.seed}
                  for c in usable
                  if c not in given and registry_row(c).inner_cv}
        self._fitted = {c: make_model(c, o).fit(X, y) for c, o in own_cv.items()}
        errs = {c: list(fold_errors_at_others_choice(m.mse_path_)[kept])
                for c, m in self._fitted.items()}
        errs.update({c: list(e[kept]) for c, e in given.items()})
        nested = [c for c in usable if c not in errs]
        errs.update({c: [] for c in nested})
        for k in kept if nested else ():
            tr, te = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
            inner = PreparedGenotypes(take_rows(G, tr), None if Zc is None else Zc[tr])
            for c in nested:
                model = make_model(c, options.get(c)).fit(inner, y[tr])
                pred = model.predict(take_rows(G, te), None if Zc is None else Zc[te])
                errs[c].append(float(np.mean((y[te] - pred) ** 2)))
        self.cv_mse_ = {c: float(np.mean(errs[c])) for c in usable if errs[c]}
        self.chosen_ = choose({c: errs[c] for c in self.cv_mse_}, self.rule)
        return self

    def refit(self, X, y, Z=None):
        """Fit the chosen candidate on every training sample (a candidate with its own
        CV was fitted so by :meth:`select`) and take on its state."""
        if self.chosen_ in self._fitted:
            self.model_ = self._fitted[self.chosen_]
        else:
            X = X if isinstance(X, PreparedGenotypes) else PreparedGenotypes(X, Z)
            options = dict(self.options or {})
            self.model_ = make_model(self.chosen_, options.get(self.chosen_)).fit(
                X, np.asarray(y, dtype=float))
        for attr in STATE:
            if hasattr(self.model_, attr):
                setattr(self, attr, getattr(self.model_, attr))
        self.LINK = self.model_.LINK
        self.prunable_ = registry_row(self.chosen_).prunable
        return self

    def predict(self, X, Z=None):
        """The chosen model's prediction (a probability for a logistic model)."""
        return self.model_.predict(X, Z)
