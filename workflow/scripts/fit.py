from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821

import resource  # noqa: E402
import sys  # noqa: E402

import pandas as pd  # noqa: E402

from sparselmm.fitting import fit_fold  # noqa: E402

fits = fit_fold(bed=plink_prefix(inp.bed), phenotypes=inp.phenotypes, names=[params.phenotype],
                folds=inp.folds, fold=int(wc.fold), method=wc.method, options=params.options,
                covariates=inp.covariates, truth=inp.truth)
# a simulated data set's rows are labelled by its scenario, not by phenotype
labels = {**params.labels, "fold": int(wc.fold), "method": wc.method}
fits.predictions.drop(columns="phenotype").to_csv(out.predictions, sep="\t", index=False,
                                                  float_format="%.10g")
metrics = [{**labels, **row} for row in fits.metrics.drop(columns="phenotype").to_dict("records")]
pd.DataFrame(metrics).to_csv(out.metrics, sep="\t", index=False, float_format="%.6g")
# peak resident memory of this process, exact (Linux reports kB); Snakemake's own
# benchmark only samples it and misses sub-second jobs
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the wall time differs run to run: its own file keeps the metrics reproducible
pd.DataFrame([{**labels, "fit_seconds": fits.timings["fit_seconds"].iloc[0],
               "max_rss_mb": round(peak_mb, 1)}]).to_csv(out.timing, sep="\t", index=False)
print({**metrics[0], "fit_seconds": fits.timings["fit_seconds"].iloc[0]}, file=sys.stderr)
