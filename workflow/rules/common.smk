# Shared helpers: config validation, scenario naming, output lists, resources.
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def load_package_module(name):
    """A module of the package (workflow/sparselmm/{name}.py) that imports nothing from
    it, read by path: Snakemake needs neither the package nor numpy."""
    path = Path(workflow.current_basedir) / ".." / "sparselmm" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sparselmm_{name}", path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded  # (dataclasses look their module up)
    spec.loader.exec_module(loaded)
    return loaded


def check_config():
    """--config values typed by the schema (Snakemake passes nested ones as text), then
    validation with defaults; an invalid config stops with a short message naming the
    key (and the closest valid one for a misspelt key)."""
    import yaml

    types = load_package_module("config_types")
    schema_path = (
        Path(workflow.current_basedir) / ".." / "schemas" / "config.schema.yaml"
    )
    schema = yaml.safe_load(schema_path.read_text())
    config.update(types.coerce(dict(config), schema))
    message = types.short_error(config, schema)
    if message:
        raise WorkflowError(message)
    validate(config, "../schemas/config.schema.yaml")


check_config()
REGISTRY = load_package_module("methods")
SIM = config["simulation"]
FOLDS = list(range(config["cv"]["folds"]))
METHODS = config["methods"]
SCENARIOS = [f"c{c}_h{h:g}" for c in SIM["n_causal"] for h in SIM["h2"]]
REPLICATES = list(range(1, SIM["replicates"] + 1))
REAL = config["realdata"]
# the QC'd real genotypes (a PLINK prefix), shared by every analysis
REAL_QC = "results/realdata/genotypes/qc"
# methods that need the true effects (the oracle) run on simulated data only
REAL_METHODS = REGISTRY.real_data_methods(METHODS)
ANALYSIS = config["analysis"]
if ANALYSIS in (
    "realdata",
    "simulation",
    "tables",
    "figures",
    "models",
    "scores",
    "logs",
    "benchmarks",
):
    raise WorkflowError(
        f"config.yaml analysis: {ANALYSIS!r} is a folder of results/ already; "
        "choose another name"
    )


def R(path):
    """An output of this analysis: under results/{analysis}/ when the config's
    ``analysis`` names one (a transcriptome, a simulation under LD), so analyses
    keep their own data sets, fits, tables, figures and models apart from the
    default run's, and share the QC'd real genotypes and covariates (not wrapped)."""
    return path.replace("results/", f"results/{ANALYSIS}/", 1) if ANALYSIS else path


wildcard_constraints:
    scenario=r"c\d+_h[0-9.]+",
    replicate=r"\d+",
    fold=r"\d+",
    method=r"[a-z][a-z0-9_]*",
    phenotype=r"[^/]+",
    cohort=r"[^/]+",
    group=r"\d+",


def parse_scenario(scenario):
    """'c10_h0.5' -> (10, 0.5)."""
    c, h = scenario[1:].split("_h")
    return int(c), float(h)


def dataset_seed(wildcards):
    """A distinct, reproducible seed per scenario x replicate."""
    c, h = parse_scenario(wildcards.scenario)
    keys = (SIM["n_causal"].index(c), SIM["h2"].index(h), int(wildcards.replicate))
    return SIM["seed"] * 1_000_003 + keys[0] * 10_007 + keys[1] * 101 + keys[2]


def simulation_params(wildcards):
    c, h = parse_scenario(wildcards.scenario)
    params = dict(
        n=SIM["n_individuals"],
        p=SIM["n_snps"],
        n_causal=c,
        h2=h,
        covariate_effects=SIM["covariate_effects"],
        intercept=SIM["intercept"],
        maf_range=SIM["maf_range"],
        seed=dataset_seed(wildcards),
    )
    if SIM["genotypes"] != "independent":  # (absent otherwise: older runs stay valid)
        params["genotypes"] = simulation_genotypes()
    if SIM["prevalence"] is not None:  # a disease: liability-threshold model
        params["prevalence"] = SIM["prevalence"]
    return params


def simulation_genotypes():
    """ "independent", "coalescent", or the QC'd copy of the PLINK prefix given: the
    real-data QC output when it is realdata.genotypes, else its own."""
    source = SIM["genotypes"]
    if source in ("independent", "coalescent"):
        return source
    if source == REAL["genotypes"]:
        return REAL_QC
    return R("results/simulation/genotypes/qc")


def plink_files(prefix):
    """``{"bed": ..., "bim": ..., "fam": ...}`` of a PLINK prefix (rule inputs)."""
    return {ext: f"{prefix}.{ext}" for ext in ("bed", "bim", "fam")}


def simulation_genotype_input(wildcards):
    prefix = simulation_genotypes()
    if prefix in ("independent", "coalescent"):
        return {}
    return plink_files(prefix)


def simulation_source_files(wildcards):
    return plink_files(SIM["genotypes"])


def simulation_source_prefix(wildcards=None):
    return SIM["genotypes"]


def scenario_labels(wildcards):
    """Columns that identify a simulation fit in the results table."""
    c, h = parse_scenario(wildcards.scenario)
    return {"n_causal": c, "h2": h, "replicate": int(wildcards.replicate)}


def method_options(wildcards):
    """The config section named after the method (oracle and ridge have none); auto's
    also holds its candidates' sections (``options``)."""
    options = dict(config.get(wildcards.method, {}))
    if wildcards.method == "auto":
        options["options"] = {c: dict(config.get(c, {})) for c in options["candidates"]}
    return options


def genotype_mb(input):
    """In-memory int8 size of the genotypes of a .bed input (4 per byte on disk)."""
    return 4 * os.path.getsize(input.bed) / 1e6 if os.path.exists(input.bed) else 100


def genotype_storage(wildcards, input):
    """The genotypes' form in a fit, int8 or packed (realdata.genotype_storage; auto
    decides by the fileset's size)."""
    choice = config["realdata"]["genotype_storage"]
    return REGISTRY.genotype_storage(choice, genotype_mb(input))


def fit_mem_mb(wildcards, input):
    # int8: every method keeps the int8 genotypes (train + test, about 1x) plus
    # per-fit working memory (the registry's bytes per genotype); measured at
    # 5,123 x 319,147 (1.6 GB int8): Lasso 2.35 GiB, elastic net 2.40 GiB peak
    # (bench/bench_realdata_fold.py). packed: the mapped .bed (a quarter of that,
    # shared with other jobs through the page cache) and the registry's packed
    # working memory per genotype (bench/biobank.py)
    row = REGISTRY.method(wildcards.method)
    options = method_options(wildcards)
    if genotype_storage(wildcards, input) == "packed":
        per_genotype = row.packed_mem_bytes_per_genotype(options)
        return int(1000 + per_genotype * genotype_mb(input))
    return int(1000 + row.mem_bytes_per_genotype(options) * genotype_mb(input))


def fit_runtime(wildcards, input):
    # minutes: generous for the default sizes, scaled with the genotype volume (the
    # registry's MB of int8 genotypes per minute)
    row = REGISTRY.method(wildcards.method)
    per_mb = row.runtime_mb_per_min(method_options(wildcards))
    return int(10 + genotype_mb(input) / per_mb)


SIM_DATA = R("results/simulation/data/{scenario}/rep{replicate}")
# the phenotype column of a simulated data set (sparselmm.simulate.PHENOTYPE)
SIM_PHENOTYPE = "y"


def simulation_data(name):
    """A file of a simulated data set: ``{SIM_DATA}/{name}``."""
    return f"{SIM_DATA}/{name}"


SIM_FIT = R("results/simulation/fits/{scenario}/rep{replicate}/{method}/fold{fold}")
SIM_BENCHMARK = R(
    "results/benchmarks/fit/{scenario}/rep{replicate}/{method}/fold{fold}.tsv"
)
# real data: one job fits a group of phenotypes (realdata.group_size) per method x fold
REAL_FIT = R("results/realdata/fits/group{group}/{method}/fold{fold}")
REAL_BENCHMARK = R("results/benchmarks/fit_real/group{group}/{method}/fold{fold}.tsv")
FIT_PARTS = ("predictions", "metrics", "inner")


def auto_shared(fit):
    """For auto's fit job (``fit``: SIM_FIT or REAL_FIT): the files of its candidates'
    own fits of the fold that it reuses (sparselmm.methods.shared_with_auto), as
    ``{candidate: {part: path or None}}``; nothing for other methods."""

    def shared(wildcards):
        if wildcards.method != "auto":
            return {}
        reused = REGISTRY.shared_with_auto(method_options(wildcards), METHODS)
        files = {}
        for cand, inner in reused.items():
            prefix = fit.format(**{**dict(wildcards.items()), "method": cand})
            files[cand] = {
                part: f"{prefix}.{part}.tsv" if part != "inner" or inner else None
                for part in FIT_PARTS
            }
        return files

    return shared


def auto_shared_inputs(fit):
    """The files of :func:`auto_shared` as named inputs (``{candidate}_{part}``)."""
    shared = auto_shared(fit)

    def inputs(wildcards):
        return {
            f"{cand}_{part}": path
            for cand, parts in shared(wildcards).items()
            for part, path in parts.items()
            if path is not None
        }

    return inputs


def simulation_files(pattern):
    return expand(
        pattern, scenario=SCENARIOS, replicate=REPLICATES, method=METHODS, fold=FOLDS
    )


def simulation_fits(wildcards=None):
    return simulation_files(f"{SIM_FIT}.metrics.tsv")


def check_phenotype_names():
    """Fail at DAG construction when an existing user table has no header this
    workflow reads, or lacks a listed phenotype.

    (A table made by the workflow itself, like the GEUVADIS default, is checked
    by the phenotype_list checkpoint, the first job that reads it; so is every
    table when Snakemake runs outside the package's environment.)
    """
    table, wanted = REAL["phenotype_table"], REAL["phenotypes"]
    if not REAL["enabled"]:
        return
    try:
        from sparselmm.tables import TableError, value_columns
    except ImportError:
        return
    covariates = REAL["covariate_table"]
    try:
        if covariates and os.path.exists(covariates):
            value_columns(covariates, "covariate")
        if not os.path.exists(table):
            return
        columns = value_columns(table)
    except TableError as err:
        raise WorkflowError(f"config.yaml realdata: {err}")
    absent = [w for w in ([] if wanted == "all" else wanted) if w not in columns]
    if absent:
        raise WorkflowError(
            f"config.yaml realdata.phenotypes: {', '.join(absent)} not among the columns of {table}"
        )


check_phenotype_names()


def output_prefix(wildcards, output):
    """PLINK prefix of a rule whose first output is a .bed file."""
    return os.path.splitext(output[0])[0]


def real_genotype_prefix(wildcards=None):
    return REAL["genotypes"]


def real_genotype_files(wildcards):
    return plink_files(REAL["genotypes"])


def phenotype_list_inputs(wildcards):
    inputs = {
        "phenotypes": REAL["phenotype_table"],
        "fam": f"{REAL_QC}.fam",
        "bim": f"{REAL_QC}.bim",
    }
    if REAL["cis_window_kb"] is not None:
        inputs["positions"] = REAL["phenotype_positions"]
    return inputs


def user_covariate_input(wildcards):
    return [REAL["covariate_table"]] if REAL["covariate_table"] else []


def qc_mem_mb(wildcards, input):
    # the whole int8 matrix plus float64 blocks and the PCs' n x 20 panels
    return int(1000 + 2 * genotype_mb(input))


def packed_mem_mb(wildcards, input):
    # steps that read the .bed packed (plink2's QC, the PCs from the mapped file):
    # the file (a quarter of the int8 size), 128 MB decode blocks, n x 20 and p x 20
    # panels of the randomized SVD
    return int(1000 + 0.5 * genotype_mb(input))


_GROUPS = {}


def real_groups():
    """The groups table written by the phenotype_list checkpoint (phenotype, group,
    window), read once per version of the file (every fit and final-fit job asks)."""
    import pandas as pd

    path = checkpoints.phenotype_list.get().output.groups
    rerun_interrupted_jobs()
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _GROUPS:
        table = pd.read_csv(
            path,
            sep="\t",
            dtype={"phenotype": str, "chrom": str},
            keep_default_na=False,
        )
        _GROUPS.clear()
        _GROUPS[key] = table
    return _GROUPS[key]


def group_ids():
    return sorted(real_groups()["group"].unique().tolist())


def group_phenotypes(wildcards):
    groups = real_groups()
    return groups.loc[groups["group"] == int(wildcards.group), "phenotype"].tolist()


def real_files(pattern):
    """``pattern`` for every group of phenotypes (known once the checkpoint ran)."""
    return expand(pattern, group=group_ids(), method=REAL_METHODS, fold=FOLDS)


def real_fits(wildcards):
    return real_files(f"{REAL_FIT}.metrics.tsv")


def group_runtime(wildcards, input):
    """Minutes for a group job: a fit's budget (fit_runtime) per phenotype, scaled by
    the share of the SNPs in its window, plus half a minute per phenotype."""
    groups = real_groups()
    share = groups.loc[groups["group"] == int(wildcards.group), "snp_fraction"]
    per_fit = fit_runtime(wildcards, input) - 10
    return int(10 + sum(0.5 + per_fit * float(f) for f in share))


def timing_inputs(wildcards):
    """Each fit's own timing file and Snakemake's benchmark record of its job."""
    timings, benchmarks = [], []
    if SIM["enabled"]:
        timings += simulation_files(f"{SIM_FIT}.timing.tsv")
        benchmarks += simulation_files(SIM_BENCHMARK)
    if REAL["enabled"]:
        timings += real_files(f"{REAL_FIT}.timing.tsv")
        benchmarks += real_files(REAL_BENCHMARK)
    return {"timings": timings, "benchmarks": benchmarks}


def final_outputs():
    outputs = [R("results/tables/timings.tsv")]
    if (
        SIM["enabled"]
        and "hybrid" in METHODS
        and config["hybrid"]["inference"] == "vamp"
    ):
        outputs.append(R("results/tables/simulation_hybrid.tsv"))
    if SIM["enabled"]:
        outputs += [
            R("results/tables/simulation_r2.tsv"),
            R("results/figures/fig1_simulation.png"),
            R("results/figures/fig1_simulation.pdf"),
            R("results/tables/simulation_summary.tsv"),
        ]
    if REAL["enabled"]:
        outputs += [
            R("results/tables/real_r2.tsv"),
            R("results/figures/fig2_real.png"),
            R("results/figures/fig2_real.pdf"),
            R("results/tables/real_summary.tsv"),
            R("results/tables/real_predicted.tsv"),
        ]
    if "auto" in METHODS:  # which method auto chose where
        outputs += [
            R(f"results/tables/{analysis}_auto.tsv")
            for analysis, on in (
                ("simulation", SIM["enabled"]),
                ("real", REAL["enabled"]),
            )
            if on
        ]
    return outputs


# -- trained models and scoring (models.smk) ----------------------------------------
SCORING = config["scoring"]


def group_fold_files(kind):
    """The CV fold files (metrics or predictions) of one group x method."""

    def files(wildcards):
        return expand(
            f"{REAL_FIT}.{kind}.tsv",
            group=wildcards.group,
            method=wildcards.method,
            fold=FOLDS,
        )

    return files


def model_phenotypes(wildcards=None):
    listing = checkpoints.phenotype_list.get().output.names
    return Path(listing).read_text().split()


MODEL_MANIFEST = R("results/models/groups/group{group}/{method}.tsv")


def model_manifests(methods):
    """The manifest of every group's final fits (models.smk) for ``methods``."""
    return expand(MODEL_MANIFEST, group=group_ids(), method=methods)


def all_model_files(wildcards=None):
    return model_manifests(REAL_METHODS)


def model_list(wildcards=None):
    """(phenotype, method, model prefix) of every final fit."""
    return [
        (p, m, model_pattern().format(phenotype=p, method=m))
        for p in model_phenotypes()
        for m in REAL_METHODS
    ]


def predixcan_wanted():
    """``models.predixcan``: true, false, or auto (every phenotype an Ensembl gene)."""
    want = config["models"]["predixcan"]
    if want == "auto":
        return all(re.match(r"ENS[A-Z]*G\d+", p) for p in model_phenotypes())
    return bool(want)


def model_pattern(wildcards=None):
    """The prefix of a model's files, ``{phenotype}`` and ``{method}`` unfilled."""
    return R("results/models/{phenotype}/{method}")


def gene_annotation_input(wildcards):
    """The phenotype position file, read for gene names and types, when cis windows
    use it (without windows it may not exist: the default names GEUVADIS')."""
    return [REAL["phenotype_positions"]] if REAL["cis_window_kb"] is not None else []


def predixcan_inputs(wildcards):
    return model_manifests([wildcards.method])


FUSION = R("results/models/fusion")


def fusion_wanted():
    """``models.fusion``; R's Rscript writes the .wgt.RDat files."""
    import shutil

    if not config["models"]["fusion"]:
        return False
    if shutil.which("Rscript") is None:
        raise WorkflowError(
            "config.yaml models.fusion: true needs R's Rscript on the PATH (Debian: "
            "apt-get install r-base-core; setup.sh installs it as root)"
        )
    return True


def model_outputs(wildcards=None):
    out = model_manifests(REAL_METHODS)
    if fusion_wanted():
        out.append(f"{FUSION}/models.pos")
    if predixcan_wanted():
        out += expand(
            R("results/models/predixcan/{method}{ext}"),
            method=REAL_METHODS,
            ext=(
                ".db",
                ".covariances.txt.gz",
                ".filtered.db",
                ".filtered.covariances.txt.gz",
            ),
        )
    return out


def scoring_cohort():
    return os.path.basename(str(SCORING["genotypes"]).rstrip("/"))


def scoring_genotype_files(wildcards):
    return plink_files(SCORING["genotypes"])


def score_target(wildcards=None):
    if not SCORING["genotypes"]:
        raise WorkflowError(
            "target 'score' needs scoring.genotypes: the PLINK prefix of the cohort to "
            "score (in config.yaml, or --config scoring='{genotypes: path/prefix}')"
        )
    if not REAL["enabled"]:
        raise WorkflowError(
            "target 'score' needs realdata.enabled: the models are fitted there"
        )
    return [R(f"results/scores/{scoring_cohort()}.predictions.tsv")]


def main_job_models(wildcards=None):
    """The trained models, part of the main job unless models.enabled is false."""
    if not (REAL["enabled"] and config["models"]["enabled"]):
        return []
    return model_outputs()


# -- faults: paths that do not exist, interrupted jobs, failed jobs' messages ----------
def config_paths():
    """``(key, path, kind)`` of every input path the config names and this run reads:
    kind "plink" for a PLINK prefix (.bed/.bim/.fam), "file" otherwise."""
    paths = []
    if REAL["enabled"]:
        paths.append(("realdata.genotypes", REAL["genotypes"], "plink"))
        paths.append(("realdata.phenotype_table", REAL["phenotype_table"], "file"))
        if REAL["covariate_table"]:
            paths.append(("realdata.covariate_table", REAL["covariate_table"], "file"))
        if REAL["cis_window_kb"] is not None:
            paths.append(
                ("realdata.phenotype_positions", REAL["phenotype_positions"], "file")
            )
    if SIM["enabled"] and SIM["genotypes"] not in ("independent", "coalescent"):
        paths.append(("simulation.genotypes", SIM["genotypes"], "plink"))
    if SCORING["genotypes"]:
        paths.append(("scoring.genotypes", SCORING["genotypes"], "plink"))
    return paths


def fam_samples(prefix):
    """Samples in a fileset's .fam, None where it does not exist yet."""
    fam = plink_files(str(prefix))["fam"]
    if not os.path.exists(fam):
        return None
    with open(fam) as fh:
        return sum(1 for line in fh if line.strip())


def check_sample_sizes():
    """Stop before any job runs when a method of ``methods:`` cannot run on the data's
    sample size (the methods with an n x n matrix; sparselmm.methods.max_samples), or
    is a logistic model and the simulation is of a quantitative trait."""
    sizes = []
    if SIM["enabled"]:
        sim = SIM["genotypes"]
        if sim in ("independent", "coalescent"):
            sizes.append((METHODS, SIM["n_individuals"], "simulation.n_individuals"))
        elif fam_samples(sim) is not None:
            sizes.append((METHODS, fam_samples(sim), f"simulation.genotypes {sim}.fam"))
    if REAL["enabled"] and fam_samples(REAL["genotypes"]) is not None:
        fam = f"realdata.genotypes {REAL['genotypes']}.fam"
        sizes.append((REAL_METHODS, fam_samples(REAL["genotypes"]), fam))
    for names, n, source in sizes:
        try:
            options = {
                m: method_options(SimpleNamespace(method=m))
                for m in names
                if m != "oracle"
            }
            REGISTRY.check_sample_size(names, n, source, options)
        except ValueError as err:
            raise WorkflowError(f"config.yaml methods: {err}") from None
    logistic = REGISTRY.binary_only_methods(METHODS)
    if logistic and SIM["enabled"] and SIM["prevalence"] is None:
        raise WorkflowError(
            f"config.yaml methods: {', '.join(logistic)} fit binary (case-control) "
            f"phenotypes only, and the simulation is of a quantitative trait: set "
            f"simulation.prevalence (a disease), or simulation: {{enabled: false}}"
        )


def made_by_a_rule(path):
    return any(rule.is_producer(path) for rule in workflow.rules)


def check_config_paths():
    """Stop before any job runs when a path of the config does not exist and no rule
    makes it (the default GEUVADIS files are made by rules): a mistyped path must not
    show an earlier run's results as current."""
    for key, path, kind in config_paths():
        path = str(path)
        files = list(plink_files(path).values()) if kind == "plink" else [path]
        absent = [f for f in files if not os.path.exists(f) and not made_by_a_rule(f)]
        if not absent:
            continue
        hint = ""
        if kind == "plink" and re.search(r"\.(bed|bim|fam)$", path):
            hint = f" (give the prefix, without .{path[-3:]}: {path[:-4]})"
        verb = "does not exist" if len(absent) == 1 else "do not exist"
        raise WorkflowError(f"config.yaml {key}: {', '.join(absent)} {verb}{hint}")


def snakemake_records(folder):
    """``{path: record file}`` of Snakemake's bookkeeping in ``.snakemake/{folder}``
    (incomplete markers, metadata): one file per output, named by the urlsafe base64
    of its path (split into '@'-prefixed folders where longer than a file name)."""
    import base64

    top = Path(".snakemake") / folder
    records = {}
    for root, _, names in os.walk(top) if top.is_dir() else ():
        for name in names:
            parts = Path(root, name).relative_to(top).parts
            try:
                path = base64.urlsafe_b64decode("".join(p.lstrip("@") for p in parts))
                records[path.decode()] = Path(root, name)
            except ValueError:  # not a record (Snakemake's own files)
                continue
    return records


def interrupted_outputs():
    """Existing files that Snakemake marked incomplete (their job was interrupted)."""
    return sorted(p for p in snakemake_records("incomplete") if os.path.isfile(p))


_INTERRUPTED_CHECKED = []


def incomplete_at_start():
    """The incomplete markers found as the workflow is read, before this run starts a
    job: those of an earlier, interrupted run (none while another Snakemake holds the
    directory's lock: they are its running jobs')."""
    locks = Path(".snakemake/locks")
    if not workflow.is_main_process or (locks.is_dir() and any(locks.iterdir())):
        return set()
    return set(snakemake_records("incomplete"))


INCOMPLETE_AT_START = incomplete_at_start()


def rerun_interrupted_jobs():
    """Redo the jobs an interrupted run left marked incomplete, as Snakemake does for
    the jobs it sees before the phenotype checkpoint is resolved: Workflow._build_dag
    runs DAG.init, which checks the markers, before update_checkpoint_dependencies
    adds the fits and final fits, whose markers are then never checked (Snakemake
    9.27), so their outputs would be reused. Called from the first input function
    that reads the checkpoint (real_groups), when those jobs are being added: with
    --rerun-incomplete (set by profiles/default) their outputs join the DAG's forced
    files (a dry run lists them as jobs to run); without it the run stops and names
    them, like Snakemake's own IncompleteFilesException. Only the markers present
    before this run started count (INCOMPLETE_AT_START): in a fresh run the checkpoint
    is first read after its job ran, while other jobs of this run are marked."""
    dag = workflow.dag
    if _INTERRUPTED_CHECKED or dag is None or not workflow.is_main_process:
        return
    _INTERRUPTED_CHECKED.append(True)
    left = [
        path
        for path in interrupted_outputs()
        if path in INCOMPLETE_AT_START and path not in dag.forcefiles
    ]
    if not left:
        return
    shown = left[:10] + ([f"... and {len(left) - 10} more"] if len(left) > 10 else [])
    listed = "\n    ".join(shown)
    if not workflow.dag_settings.force_incomplete:
        raise WorkflowError(
            f"{len(left)} file(s) were being written when a run was interrupted:\n    "
            f"{listed}\nRerun with --rerun-incomplete (profiles/default sets it) to "
            "redo their jobs."
        )
    dag.forcefiles.update(left)
    print(
        f"{len(left)} file(s) were being written when a run was interrupted; their jobs "
        f"run again:\n    {listed}",
        file=sys.stderr,
    )


def forget_failed_outputs(outputs):
    """Drop Snakemake's records of a failed job's outputs (Snakemake removed the files
    but keeps their metadata from the last success). With the records kept, the next
    run, the input unchanged, takes the missing files for intermediate ones and its
    final tables for up to date: after a failed phenotype_list it said "Nothing to be
    done" and exited 0 (Snakemake 9.27). Without them the job runs, and fails, again."""
    records = snakemake_records("metadata")
    for path in outputs:
        if path in records and not os.path.exists(path):
            records[path].unlink()


def failed_jobs(main_logs):
    """``(rule, outputs, logs)`` of each "Error in rule" block of Snakemake's own
    log(s) of this run (``log`` in onerror)."""
    paths = [main_logs] if isinstance(main_logs, (str, Path)) else list(main_logs)
    texts = []
    for path in paths:
        try:
            texts.append(Path(path).read_text())
        except OSError:
            pass
    text = "".join(texts)

    def field(block, name):
        found = re.search(rf"^\s+{name}: (.+?)(?: \(check log file.*)?$", block, re.M)
        return found.group(1).split(", ") if found else []

    # (the colon as \x3a: Snakemake's linter takes "rule" and a colon for a rule)
    found = re.findall(r"^Error in rule (\S+)\x3a\n(([ \t]+.*\n)*)", text, re.M)
    return [
        (rule, field(block, "output"), field(block, "log")) for rule, block, _ in found
    ]


def after_failure(main_logs, lines=5):
    """onerror: forget the failed jobs' outputs (forget_failed_outputs) and print the
    last lines of each one's log, where the error message is (the last line of its
    traceback), so the terminal shows it without opening the log."""
    jobs = failed_jobs(main_logs)
    forget_failed_outputs(out for _, outputs, _ in jobs for out in outputs)
    for rule, _, logs in jobs:
        for path in logs:
            try:
                tail = Path(path).read_text().rstrip("\n").split("\n")[-lines:]
            except OSError:
                continue
            print(f"\n== {rule} failed; the end of its log, {path}", file=sys.stderr)
            print("\n".join(f"    {line}" for line in tail), file=sys.stderr)
