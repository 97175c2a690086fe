from common import start

start(snakemake)  # noqa: F821
inp, out, methods = snakemake.input, snakemake.output, snakemake.params.methods  # noqa: F821

from sparselmm.plots import fig1_simulation  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

fig = fig1_simulation(read_results(inp.table), methods)
fig.savefig(out.png, dpi=150)
fig.savefig(out.pdf, metadata={"CreationDate": None})  # no timestamp: reruns match
