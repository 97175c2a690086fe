"""The registry of methods is the one list of methods, and the package's import
graph stays a clean hierarchy."""

import ast
from pathlib import Path

import pytest
import yaml

from sparselmm import methods
from sparselmm.methods import METHODS, REGISTRY, estimator_class, make_model

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workflow" / "sparselmm"


def schema():
    return yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def test_schema_lists_the_registry():
    assert schema()["properties"]["methods"]["items"]["enum"] == list(METHODS)


def test_every_method_default_is_registered():
    assert set(schema()["properties"]["methods"]["default"]) <= set(METHODS)


@pytest.mark.parametrize("row", REGISTRY, ids=lambda r: r.name)
def test_every_row_builds_its_estimator(row):
    cls = estimator_class(row.name)
    assert row.estimator.endswith(f":{cls.__name__}")
    assert callable(getattr(cls, "fit")) and callable(getattr(cls, "predict"))
    if row.needs_truth:
        truth = {"beta_full": [0.0, 1.0], "intercept": 0.0, "covariate_effects": [1.0]}
        assert isinstance(make_model(row.name, truth=truth), cls)
        with pytest.raises(ValueError, match="needs the true effects"):
            make_model(row.name)
    else:
        model = make_model(row.name, {})
        assert isinstance(model, cls)
    assert row.colour.startswith("#") and row.label
    assert row.runtime_mb_per_min({}) > 0 and row.mem_bytes_per_genotype({}) > 0


def test_options_reach_the_estimator():
    assert make_model("sparselmm", {"max_iter": 7}).max_iter == 7
    with pytest.raises(TypeError):
        make_model("sparselmm", {"no_such_option": 1})


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="unknown method 'lasso2'; choose from sparselmm, "):
        make_model("lasso2")


def test_order_and_real_data_methods():
    assert methods.method_order(["oracle", "zeta", "lasso", "sparselmm"]) == [
        "sparselmm", "lasso", "oracle", "zeta"]
    assert methods.real_data_methods(["sparselmm", "oracle", "lasso"]) == ["sparselmm", "lasso"]


def test_figures_take_colours_and_labels_from_the_registry():
    from sparselmm import plots

    assert plots.COLOURS == {m.name: m.colour for m in REGISTRY}
    assert plots.LABELS["bslmm"] == "BSLMM (GEMMA)"


def imports(path):
    """``(module, names)`` of every relative import of a module of the package,
    lazy ones (inside functions) included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import a, b
                out += [(alias.name, []) for alias in node.names]
            else:
                out.append((node.module, [alias.name for alias in node.names]))
    return out


def test_no_private_names_imported_across_modules():
    """A module imports only public names of its siblings (the numba kernels
    module excepted: its compiled functions are the package's internals)."""
    bad = [(path.name, module, name) for path in PACKAGE.glob("*.py")
           for module, names in imports(path) if module != "_kernels"
           for name in names if name.startswith("_")]
    assert not bad


def test_import_graph_has_no_cycles():
    graph = {path.stem: {m for m, _ in imports(path)} for path in PACKAGE.glob("*.py")}
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(graph):
        visit(node)


# the layers of the package, lowest first: a module imports only from its own layer
# or below (estimators never import the workflow's glue)
LAYERS = [
    {"_kernels", "outputs", "traits"},
    {"_design", "tables", "methods", "config_types"},
    {"_base", "_vamp", "cv", "plink", "cis"},
    {"model", "logistic", "logistic_penalised", "select", "baselines", "hybrid", "ridge", "penalised", "bslmm", "simulate",
     "samples", "realdata", "summary", "plots"},
    {"fitting", "export"},
    {"__init__"},
]


def test_no_upward_imports():
    layer = {m: k for k, mods in enumerate(LAYERS) for m in mods}
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert modules == set(layer), "every module has a layer"
    up = [(path.stem, m) for path in PACKAGE.glob("*.py") for m, _ in imports(path)
          if layer[m] > layer[path.stem]]
    assert not up


def test_inner_cv_methods_and_their_defaults_are_the_estimators():
    """The registry's inner_cv flag marks the estimators whose CV auto reads (the
    ProjectedElasticNetCV family), and INNER_CV_DEFAULTS are their defaults and auto's."""
    import inspect

    from sparselmm.penalised import ProjectedElasticNetCV
    from sparselmm.select import AutoSelectCV

    for row in REGISTRY:
        assert row.inner_cv == issubclass(estimator_class(row.name), ProjectedElasticNetCV)
        if row.inner_cv:
            sig = inspect.signature(estimator_class(row.name)).parameters
            assert {k: sig[k].default for k in methods.INNER_CV_DEFAULTS} == \
                methods.INNER_CV_DEFAULTS
    sig = inspect.signature(AutoSelectCV).parameters
    assert {k: sig[k].default for k in methods.INNER_CV_DEFAULTS} == methods.INNER_CV_DEFAULTS


def test_auto_shares_the_fits_of_candidates_fitted_beside_it_with_its_folds():
    share = methods.shared_with_auto
    auto = {"candidates": ["sparselmm", "lasso", "elasticnet"], "cv": 3,
            "options": {"lasso": {"cv": 3}, "elasticnet": {"cv": 5}, "sparselmm": {}}}
    methods_run = ["sparselmm", "lasso", "elasticnet", "auto"]
    # the elastic net's folds are not auto's: auto fits it itself
    assert share(auto, methods_run) == {"sparselmm": False, "lasso": True}
    assert share(auto, ["auto", "lasso"]) == {"lasso": True}  # sparselmm not fitted
    assert share({**auto, "seed": 1}, methods_run) == {"sparselmm": False}
    # the defaults: 5 folds, seed 0 on both sides
    assert share({"candidates": ["lasso"], "options": {"lasso": {}}}, ["lasso", "auto"]) == \
        {"lasso": True}
