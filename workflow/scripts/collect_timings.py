from common import start

start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output.table  # noqa: F821

import sys  # noqa: E402

from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import collect_timings  # noqa: E402

table = collect_timings(list(inp.timings), list(inp.benchmarks))
write_tsv(table, out, float_format="%.6g")
print(f"{len(table)} fits timed", file=sys.stderr)
