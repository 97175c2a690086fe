"""The registry of methods: one row per method the workflow can fit.

A row says everything the workflow and the package need to know about a method:
the estimator (``module:Class`` in this package, imported only when a model is
made, so that reading the registry costs nothing), whether it needs the true
effects of a simulation, whether its exported model is pruned by PIP, its colour
and label in the figures, and its job resources. The order of :data:`REGISTRY`
is the plotting and table order.

This module imports nothing from the package at import time: the Snakefile reads
it by path (``workflow/rules/common.smk``), outside the package's environment
where need be.

Adding a method (see docs/methods.md): its estimator in its own module, a row
here, and its name (and options section) in ``workflow/schemas/config.schema.yaml``;
``tests/test_methods.py`` holds the schema's list equal to this one.
"""

import importlib
from dataclasses import dataclass


def _default_runtime(options):
    return 20.0


def _sparselmm_runtime(options):
    # the Lasso start adds one penalty path: about 40 % of the Lasso's CV, whose
    # budget is 100 MB/min (bench/sparselmm_under_ld.py: 2.5-13 s against 0.6-1.2 s)
    return 20.0 if options.get("init", "prior") == "prior" else 12.0


def _penalised_runtime(options):
    # int8 coordinate descent: about 2 min for 1.6 GB of genotypes (5,123 x 319,147,
    # bench/bench_realdata_fold.py), so 100 MB/min leaves a tenfold margin; the dense
    # solvers (sklearn, celer) 20 MB/min
    return 100.0 if options.get("solver", "cd") == "cd" else 20.0


def _penalised_memory(options):
    # the dense solvers copy the genotypes to float64 and more: about 24 bytes each
    return 2.0 if options.get("solver", "cd") == "cd" else 24.0


def _bslmm_runtime(options):
    # a tenth of GEMMA's default chain (110,000 iterations) took 4-10 min on 16 MB of
    # genotypes (800 x 20,000, 2 busy cores): 0.5 MB/min, scaled by the chain length
    chain = options.get("burn_in", 100_000) + options.get("samples", 1_000_000)
    return 0.5 * 110_000 / max(chain, 1)


def _hybrid_runtime(options):
    # two starts of up to max_iter iterations, each two passes over the genotypes,
    # restarted with more damping under strong LD
    return 4.0


def _logistic_runtime(options):
    # each iteration: a sweep and two blockwise passes (the bound's weights, C = Q^T D X)
    return 5.0


def _over_candidates(options, field):
    """Registry ``field`` (a function of options) of each of auto's candidates, at the
    candidate's options (``options["options"][name]``)."""
    inner = options.get("options", {})
    names = options.get("candidates", ("sparselmm", "lasso"))
    return [getattr(_BY_NAME[c], field)(dict(inner.get(c, {}))) for c in names
            if c in _BY_NAME]


def _auto_runtime(options):
    # cv + 1 fits of every candidate (on about 4/5 of the samples) and the refit
    folds = options.get("cv", 5) + 2
    minutes_per_mb = sum(folds / rate for rate in _over_candidates(options,
                                                                   "runtime_mb_per_min"))
    return 1.0 / max(minutes_per_mb, 1e-9)


def _auto_memory(options):
    return max(_over_candidates(options, "mem_bytes_per_genotype") or [2.0])


def _auto_packed_memory(options):
    return max(_over_candidates(options, "packed_mem_bytes_per_genotype") or [0.3])


def _auto_limit(options):
    limits = [x for x in _over_candidates(options, "max_samples") if x is not None]
    return min(limits) if limits else None


def _int8_memory(options):
    return 2.0


def _packed_memory(options):
    # bytes per genotype of a fit on the packed .bed (genotype_storage: packed):
    # the mapped file is a quarter byte per genotype, resident once read (and shared
    # with every job on the node); the fits' own arrays are O(n + p)
    return 0.3


def _penalised_packed_memory(options):
    # the Lasso's cache of decoded columns of its working set (n x up to a few
    # thousand float64) comes on top of the mapped file
    return 0.5 if options.get("solver", "cd") == "cd" else 24.0


# genotype_storage "auto": fits read the packed .bed above this int8 size (MB). The
# paper's 5,123 x 319,147 (1,635 MB) stays int8: every method fits a fold in under
# 2.8 GiB there, and the Lasso twice as fast as from the packed file (bench/biobank.py)
PACKED_ABOVE_MB = 2000


def genotype_storage(choice, int8_mb):
    """``"int8"`` or ``"packed"``: the config's ``realdata.genotype_storage`` with
    ``"auto"`` decided by the genotypes' int8 size in MB (4 per byte of the .bed)."""
    if choice == "auto":
        return "packed" if int8_mb > PACKED_ABOVE_MB else "int8"
    if choice not in ("int8", "packed"):
        raise ValueError(f"genotype_storage must be auto, int8 or packed, not {choice!r}")
    return choice


# methods with an n x n matrix: 20,000 samples are 3.2 GB of float64 per copy and an
# eigendecomposition of about 10^13 flops (an hour or more on a few cores)
N_BY_N_MAX_SAMPLES = 20_000


def _no_limit(options):
    return None


def _n_by_n(options):
    return N_BY_N_MAX_SAMPLES


def _hybrid_limit(options):
    # VAMP's E-step works on the eigendecomposition of X X^T; the mean-field E-step
    # (inference: mean_field) only sweeps over the SNPs
    return N_BY_N_MAX_SAMPLES if options.get("inference", "vamp") == "vamp" else None


@dataclass(frozen=True)
class Method:
    """One row of the registry.

    Attributes
    ----------
    name : str
        The method's name in ``config.yaml`` (``methods:``), in paths and tables.
    estimator : str
        ``module:Class`` of the estimator in this package.
    label, colour : str
        Its name and colour in every figure.
    needs_truth : bool
        Fitted from the true effects of a simulation (the oracle): not run on real
        data, and built by ``Class.from_truth(truth)``.
    prunable : bool
        Its PIPs say which SNPs matter: export keeps SNPs with PIP >= models.min_pip.
    runtime_mb_per_min : callable
        ``options -> MB`` of int8 genotypes per minute of a fit's runtime budget.
    mem_bytes_per_genotype : callable
        ``options -> bytes`` of job memory per genotype, beyond a fixed 1 GB.
    packed_mem_bytes_per_genotype : callable
        The same when the fit reads the packed .bed (``genotype_storage``).
    max_samples : callable
        ``options -> int or None``: the most samples the method is run on. Methods
        that form an ``n x n`` matrix (and its eigendecomposition, ``O(n^3)``) stop
        the workflow before any job runs above it, naming the methods that scale.
    inner_cv : bool
        Chooses its penalty by inner CV over folds set by its options ``cv`` and
        ``seed`` (defaults :data:`INNER_CV_DEFAULTS`), and its fits write each inner
        fold's error: ``auto`` with the same ``cv`` and ``seed`` reads them instead of
        fitting it again (:func:`shared_with_auto`).
    binary_only : bool
        A model of a case-control outcome (logistic): fitted to binary phenotypes
        only; its ``predict`` is the probability of being a case, and its SNP part
        (``predict_genetic``) the log-odds.
    """

    name: str
    estimator: str
    label: str
    colour: str
    needs_truth: bool = False
    prunable: bool = False
    runtime_mb_per_min: object = _default_runtime
    mem_bytes_per_genotype: object = _int8_memory
    packed_mem_bytes_per_genotype: object = _packed_memory
    max_samples: object = _no_limit
    binary_only: bool = False
    inner_cv: bool = False


# the inner folds of a method with inner_cv, and of auto, when its options do not set them
INNER_CV_DEFAULTS = {"cv": 5, "seed": 0}

REGISTRY = (
    Method("sparselmm", "model:SparseLMM", "SparseLMM", "#D55E00", prunable=True,
           runtime_mb_per_min=_sparselmm_runtime),
    Method("sparselmm_logistic", "logistic:LogisticSparseLMM", "SparseLMM (logistic)",
           "#8C2D04", prunable=True, runtime_mb_per_min=_logistic_runtime, binary_only=True),
    Method("hybrid", "hybrid:HybridLMM", "Hybrid", "#CC79A7", prunable=True,
           runtime_mb_per_min=_hybrid_runtime, max_samples=_hybrid_limit),
    Method("ridge", "ridge:RidgeREML", "Ridge (GBLUP)", "#009E73", max_samples=_n_by_n),
    Method("lasso", "penalised:ProjectedLassoCV", "Lasso", "#0072B2",
           runtime_mb_per_min=_penalised_runtime, mem_bytes_per_genotype=_penalised_memory,
           packed_mem_bytes_per_genotype=_penalised_packed_memory, inner_cv=True),
    Method("elasticnet", "penalised:ProjectedElasticNetCV", "Elastic net", "#56B4E9",
           runtime_mb_per_min=_penalised_runtime, mem_bytes_per_genotype=_penalised_memory,
           packed_mem_bytes_per_genotype=_penalised_packed_memory, inner_cv=True),
    Method("lasso_logistic", "logistic_penalised:LogisticLassoCV", "Lasso (logistic)",
           "#023858", runtime_mb_per_min=_logistic_runtime, binary_only=True),
    Method("elasticnet_logistic", "logistic_penalised:LogisticElasticNetCV",
           "Elastic net (logistic)", "#2B8CBE", runtime_mb_per_min=_logistic_runtime,
           binary_only=True),
    Method("top1", "baselines:TopSNP", "Top SNP (top1)", "#E69F00"),
    # BSLMM's PIPs speak only of its sparse part: its polygenic part gives every SNP
    # an effect, so it is exported whole, as ridge is
    Method("bslmm", "bslmm:GemmaBSLMM", "BSLMM (GEMMA)", "#999933",
           runtime_mb_per_min=_bslmm_runtime, max_samples=_n_by_n),
    # the chosen method's PIPs decide its pruning (the model's prunable_)
    Method("auto", "select:AutoSelectCV", "Auto (inner CV)", "#7F7F7F",
           runtime_mb_per_min=_auto_runtime, mem_bytes_per_genotype=_auto_memory,
           packed_mem_bytes_per_genotype=_auto_packed_memory, max_samples=_auto_limit),
    Method("oracle", "baselines:Oracle", "Oracle (true effects)", "#000000", needs_truth=True),
)
METHODS = tuple(m.name for m in REGISTRY)
_BY_NAME = {m.name: m for m in REGISTRY}


def method(name):
    """The registry row of ``name``; ValueError naming the choices if there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}") from None


def estimator_class(name):
    """The estimator class of method ``name`` (its module is imported now)."""
    module, cls = method(name).estimator.split(":")
    return getattr(importlib.import_module(f"{__package__ or 'sparselmm'}.{module}"), cls)


def make_model(name, options=None, truth=None):
    """An unfitted estimator of method ``name`` with ``options`` (its config section).

    ``truth``: the true effects of a simulated data set
    (:func:`sparselmm.simulate.read_truth`), needed by methods that use them.
    """
    row = method(name)
    cls = estimator_class(name)
    options = dict(options or {})
    if row.needs_truth:
        if truth is None:
            raise ValueError(f"method {name!r} needs the true effects (simulated data only)")
        return cls.from_truth(truth, **options)
    return cls(**options)


def method_order(names):
    """``names`` in the registry's order, others after, by name."""
    return sorted(names, key=lambda m: (METHODS.index(m) if m in METHODS else len(METHODS), m))


def scalable_methods():
    """The real-data methods without a sample-size limit at their default options."""
    return [m.name for m in REGISTRY if m.max_samples({}) is None and not m.needs_truth]


def check_sample_size(names, n_samples, source, options=None):
    """ValueError when a method of ``names`` cannot be run on ``n_samples`` samples
    (its ``max_samples`` at its options, ``options[name]``), naming the methods, the
    size, its source and what scales."""
    options = options or {}
    limits = {m: _BY_NAME[m].max_samples(dict(options.get(m) or {})) for m in names
              if m in _BY_NAME}
    over = [m for m, limit in limits.items() if limit is not None and n_samples > limit]
    if over:
        limit = min(limits[m] for m in over)
        hybrid = " (and the hybrid with inference: mean_field)" if "hybrid" in over else ""
        raise ValueError(
            f"{', '.join(over)}: {n_samples:,} samples ({source}) is above the "
            f"{limit:,} these methods run on (they form an n x n matrix, "
            f"{8 * n_samples**2 / 1e9:.0f} GB, and its O(n^3) eigendecomposition). "
            f"Remove them from methods:, or fit a subset of the samples; these scale "
            f"to biobank size on the packed .bed: {', '.join(scalable_methods())}{hybrid}")


def binary_only_methods(names):
    """The methods of ``names`` that fit binary phenotypes only (logistic models)."""
    return [m for m in names if m in _BY_NAME and _BY_NAME[m].binary_only]


def shared_with_auto(options, methods):
    """Which of auto's candidates the workflow's own fits serve auto, when ``methods``
    (the config's) fits them beside auto: ``{candidate: True}`` where auto also reads
    its inner-CV errors (a method with ``inner_cv`` whose ``cv`` and ``seed`` are auto's:
    the same folds, so its fit is the one auto would make), ``{candidate: False}``
    where auto reads only its predictions of the held-out fold, if it chooses it (its
    refit). Others are fitted by auto itself. ``options`` is auto's config section
    with the candidates' sections under ``options["options"]``."""
    inner = options.get("options", {})
    folds = {k: options.get(k, v) for k, v in INNER_CV_DEFAULTS.items()}
    shared = {}
    for c in options.get("candidates", ("sparselmm", "lasso")):
        if c not in methods or c not in _BY_NAME or c == "auto":
            continue
        if not _BY_NAME[c].inner_cv:
            shared[c] = False
        elif all(dict(inner.get(c) or {}).get(k, v) == folds[k]
                 for k, v in INNER_CV_DEFAULTS.items()):
            shared[c] = True
    return shared


def real_data_methods(names):
    """The methods of ``names`` that can be fitted on real data (no true effects)."""
    return [m for m in names if not (m in _BY_NAME and _BY_NAME[m].needs_truth)]
