import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

from sparselmm.pipeline import predicted_counts, read_results  # noqa: E402

counts = predicted_counts(read_results(inp.table), baseline="sparselmm")
counts.to_csv(out.table, sep="\t", index=False, float_format="%.4f")
print(counts.to_string(), file=sys.stderr)
