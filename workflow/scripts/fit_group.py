from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821

import resource  # noqa: E402
import sys  # noqa: E402

from sparselmm.cis import group_columns  # noqa: E402
from sparselmm.fitting import fit_fold, read_groups  # noqa: E402
from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.plink import read_bim  # noqa: E402

prefix = plink_prefix(inp.bed)
groups = read_groups(inp.groups)
groups = groups[groups["group"] == int(wc.group)]
fits = fit_fold(
    bed=prefix, phenotypes=inp.phenotypes, names=list(params.names), folds=inp.folds,
    fold=int(wc.fold), method=wc.method, options=params.options, covariates=inp.covariates,
    transform=params.transform, windows=group_columns(groups, lambda: read_bim(prefix)),
    storage=params.genotype_storage, binary=params.binary, prevalence=params.prevalence,
    shared=params.shared)
write_tsv(fits.predictions, out.predictions, float_format="%.10g")
write_tsv(fits.metrics, out.metrics, float_format="%.6g")
# a method with its own inner CV: each inner fold's error, which auto can reuse
write_tsv(fits.inner, out.inner, float_format="%.10g")
# peak resident memory of this process, exact (Linux reports kB)
timings = fits.timings
timings["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
# the wall time differs run to run: its own file keeps the metrics reproducible
write_tsv(timings, out.timing)
print(f"{len(timings)} phenotypes, {timings['fit_seconds'].sum():.2f} s of fits", file=sys.stderr)
