from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, params, wc = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821

from sparselmm.cis import group_columns  # noqa: E402
from sparselmm.export import final_fit  # noqa: E402
from sparselmm.fitting import read_groups  # noqa: E402
from sparselmm.plink import read_bim  # noqa: E402

prefix = plink_prefix(inp.bed)
groups = read_groups(inp.groups)
row = groups[groups["phenotype"] == params.phenotype]
cols = group_columns(row, lambda: read_bim(prefix))[params.phenotype]
window = None if cols is None else {
    "chrom": row["chrom"].iloc[0], "start": int(row["window_start"].iloc[0]),
    "end": int(row["window_end"].iloc[0]), "kb": params.window_kb}
final_fit(bed=prefix, phenotypes=inp.phenotypes, phenotype=params.phenotype,
          covariates=inp.covariates, method=wc.method, options=params.options,
          transform=params.transform, out=params.prefix.format(**wc), min_pip=params.min_pip,
          cv_metrics=list(inp.metrics), cv_predictions=list(inp.predictions), cols=cols,
          window=window)
