from common import start

start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import predicted_counts  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

counts = predicted_counts(read_results(inp.table), baseline="sparselmm")
write_tsv(counts, out.table, float_format="%.4f")
print(counts.to_string(), file=sys.stderr)
