from common import start

start(snakemake)  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output.table  # noqa: F821

import sys  # noqa: E402

from sparselmm.fitting import read_groups  # noqa: E402
from sparselmm.outputs import write_tsv  # noqa: E402
from sparselmm.summary import collect_metrics  # noqa: E402

groups = None
if "groups" in inp.keys():
    table = read_groups(inp.groups)
    groups = dict(zip(table["phenotype"], table["group"]))
table = collect_metrics(list(inp.fits), folds=params.folds, groups=groups)
write_tsv(table, out, float_format="%.6g")
print(f"{len(table)} rows from {len(inp.fits)} fits", file=sys.stderr)
