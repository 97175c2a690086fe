from common import start

start(snakemake)  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.export import score_cohort  # noqa: E402
from sparselmm.outputs import write_tsv  # noqa: E402

preds, matching = score_cohort(params.prefix, params.models, min_fraction=params.min_fraction)
write_tsv(preds, out.predictions, float_format="%.10g")
write_tsv(matching, out.snps)
