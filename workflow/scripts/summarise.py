from common import start

start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import summarise_all  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

summary = summarise_all(read_results(inp.table), baseline="sparselmm")
write_tsv(summary, out.table, float_format="%.4f")
print(summary.to_string(), file=sys.stderr)
