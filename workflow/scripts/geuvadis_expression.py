import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

from sparselmm.realdata import expression_bed_to_tsv  # noqa: E402

n, p = expression_bed_to_tsv(inp.expression, out.table)
print(f"{n} samples x {p} genes", file=sys.stderr)
