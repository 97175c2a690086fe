import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output.table  # noqa: F821

from sparselmm.pipeline import collect_timings  # noqa: E402

table = collect_timings(list(inp.timings), list(inp.benchmarks))
table.to_csv(out, sep="\t", index=False, float_format="%.6g")
print(f"{len(table)} fits timed", file=sys.stderr)
