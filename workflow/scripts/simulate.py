import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
params = snakemake.params.sim  # noqa: F821
out_dir = Path(snakemake.output.bed).parent  # noqa: F821

from sparselmm.pipeline import write_simulation  # noqa: E402

sim = write_simulation(out_dir, **params)
print(f"simulated {sim.genotypes.shape[0]} x {sim.genotypes.shape[1]}, "
      f"{int((sim.beta != 0).sum())} causal SNPs, seed {params['seed']}", file=sys.stderr)
