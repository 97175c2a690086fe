import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821

from sparselmm.pipeline import hybrid_status, read_results  # noqa: E402

status = hybrid_status(read_results(inp.table), damping=params.damping)
status.to_csv(out.table, sep="\t", index=False, float_format="%.4g")
print(status.to_string(), file=sys.stderr)
