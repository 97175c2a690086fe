from common import start

start(snakemake)  # noqa: F821
params, out = snakemake.params.sim, snakemake.output  # noqa: F821

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from sparselmm.simulate import write_simulation  # noqa: E402

sim = write_simulation(Path(out.bed).parent, **params)
print(f"simulated {sim.genotypes.shape[0]} x {sim.genotypes.shape[1]}, "
      f"{int((sim.beta != 0).sum())} causal SNPs, seed {params['seed']}", file=sys.stderr)
