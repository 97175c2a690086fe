from common import plink_prefix, start

start(snakemake, blas_threads=True)  # noqa: F821
inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821

import sys  # noqa: E402

from sparselmm.export import final_fit_group  # noqa: E402
from sparselmm.fitting import read_groups  # noqa: E402
from sparselmm.outputs import write_tsv  # noqa: E402

groups = read_groups(inp.groups)
groups = groups[groups["group"] == int(wc.group)]
manifest = final_fit_group(
    bed=plink_prefix(inp.bed), phenotypes=inp.phenotypes, covariates=inp.covariates,
    groups=groups, method=wc.method, options=params.options, transform=params.transform,
    prefix=params.prefix, window_kb=params.window_kb, min_pip=params.min_pip,
    cv_metrics=list(inp.metrics), cv_predictions=list(inp.predictions),
    storage=params.genotype_storage, binary=params.binary, prevalence=params.prevalence)
write_tsv(manifest, out.manifest)  # last: the job's declared output
print(f"{len(manifest)} models, {manifest['n_snps_in_model'].sum()} SNPs in all",
      file=sys.stderr)
