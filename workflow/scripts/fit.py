import os
import resource
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
# BLAS threads = the job's threads: parallel jobs must not oversubscribe the cores
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(snakemake.threads)  # noqa: F821
inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821

import pandas as pd  # noqa: E402

from sparselmm.pipeline import fit_fold  # noqa: E402

preds, metrics, seconds = fit_fold(
    bed=inp.bed[: -len(".bed")],
    phenotypes=inp.phenotypes,
    phenotype=params.phenotype,
    covariates=inp.get("covariates"),
    folds=inp.folds,
    fold=int(wc.fold),
    method=wc.method,
    options=params.options,
    truth=inp.get("truth"),
    transform=params.get("transform", "none"),
)
labels = {**params.labels, "fold": int(wc.fold), "method": wc.method}
preds.to_csv(out.predictions, sep="\t", index=False, float_format="%.10g")
pd.DataFrame([{**labels, **metrics}]).to_csv(out.metrics, sep="\t", index=False,
                                             float_format="%.6g")
# peak resident memory of this process, exact (Linux reports kB); Snakemake's own
# benchmark only samples it and misses sub-second jobs
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the wall time differs run to run: its own file keeps the metrics reproducible
pd.DataFrame([{**labels, "fit_seconds": round(seconds, 3),
               "max_rss_mb": round(peak_mb, 1)}]).to_csv(out.timing, sep="\t", index=False)
print({**labels, **metrics, "fit_seconds": seconds}, file=sys.stderr)
