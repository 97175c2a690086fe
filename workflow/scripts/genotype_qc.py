import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.realdata import genotype_qc  # noqa: E402

genotype_qc(params.prefix, out[0][: -len(".bed")], min_maf=params.min_maf,
            max_missing=params.max_missing)
