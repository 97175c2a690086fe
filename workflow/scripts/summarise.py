import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

from sparselmm.pipeline import read_results, summarise  # noqa: E402

summary = summarise(read_results(inp.table), baseline="sparselmm")
summary.to_csv(out.table, sep="\t", index=False, float_format="%.4f")
print(summary.to_string(), file=sys.stderr)
