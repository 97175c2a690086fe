from common import start

start(snakemake)  # noqa: F821
inp, out, methods = snakemake.input, snakemake.output, snakemake.params.methods  # noqa: F821

from sparselmm.outputs import atomic  # noqa: E402
from sparselmm.plots import fig1_simulation  # noqa: E402
from sparselmm.tables import read_results  # noqa: E402

fig = fig1_simulation(read_results(inp.table), methods)
with atomic(out.png) as png, atomic(out.pdf) as pdf:
    fig.savefig(png, dpi=150)
    fig.savefig(pdf, metadata={"CreationDate": None})  # no timestamp: reruns match
