from common import start

start(snakemake)  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.export import score_cohort  # noqa: E402

preds, matching = score_cohort(params.prefix, params.models, min_fraction=params.min_fraction)
preds.to_csv(out.predictions, sep="\t", index=False, float_format="%.10g")
matching.to_csv(out.snps, sep="\t", index=False)
