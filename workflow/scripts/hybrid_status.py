from common import start

start(snakemake)  # noqa: F821
inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821

import sys  # noqa: E402

from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import hybrid_status  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

status = hybrid_status(read_results(inp.table), damping=params.damping)
write_tsv(status, out.table, float_format="%.4g")
print(status.to_string(), file=sys.stderr)
