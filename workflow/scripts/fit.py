from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821

import resource  # noqa: E402
import sys  # noqa: E402

import pandas as pd  # noqa: E402
from sparselmm.fitting import fit_fold  # noqa: E402
from sparselmm.outputs import write_tsv  # noqa: E402

fits = fit_fold(bed=plink_prefix(inp.bed), phenotypes=inp.phenotypes, names=[params.phenotype],
                folds=inp.folds, fold=int(wc.fold), method=wc.method, options=params.options,
                covariates=inp.covariates, truth=inp.truth, shared=params.shared)
# a simulated data set's rows are labelled by its scenario, not by phenotype
labels = {**params.labels, "fold": int(wc.fold), "method": wc.method}
write_tsv(fits.predictions.drop(columns="phenotype"), out.predictions, float_format="%.10g")
metrics = [{**labels, **row} for row in fits.metrics.drop(columns="phenotype").to_dict("records")]
write_tsv(pd.DataFrame(metrics), out.metrics, float_format="%.6g")
# a method with its own inner CV: each inner fold's error, which auto can reuse
write_tsv(fits.inner, out.inner, float_format="%.10g")
# peak resident memory of this process, exact (Linux reports kB); Snakemake's own
# benchmark only samples it and misses sub-second jobs
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the wall time differs run to run: its own file keeps the metrics reproducible
write_tsv(pd.DataFrame([{**labels, "fit_seconds": fits.timings["fit_seconds"].iloc[0],
                         "max_rss_mb": round(peak_mb, 1)}]), out.timing)
print({**metrics[0], "fit_seconds": fits.timings["fit_seconds"].iloc[0]}, file=sys.stderr)
