from common import plink_prefix, start

start(snakemake)  # noqa: F821
inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821

from sparselmm.export import write_fusion  # noqa: E402
from sparselmm.fitting import read_groups  # noqa: E402

write_fusion(out.pos, list(params.genes), list(params.methods),
             prefix=params.prefix, bed=plink_prefix(inp.bed), phenotypes=inp.phenotypes,
             covariates=inp.covariates, transform=params.transform,
             groups=read_groups(inp.groups), window_kb=params.window_kb, panel=params.panel)
