from common import start

start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import auto_choices  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

choices = auto_choices(read_results(inp.table))
write_tsv(choices, out.table, float_format="%.4g")
print(choices.to_string(), file=sys.stderr)
