from common import plink_prefix, start

start(snakemake)  # noqa: F821
inp, params, out, wc = snakemake.input, snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from sparselmm.cis import read_gene_names  # noqa: E402
from sparselmm.export import (filter_covariance, model_weights, predixcan_filter,  # noqa: E402
                              write_predixcan_covariance, write_predixcan_db)

models = [(g, params.prefix.format(phenotype=g, method=wc.method)) for g in params.genes]
first = json.loads(Path(f"{models[0][1]}.json").read_text())
chroms = sorted({c for _, prefix in models for c in model_weights(prefix)["chrom"]})
about = {"n_samples": first["n_samples"], "chromosome": ",".join(chroms) or None,
         "cv_seed": params.cv_seed,
         "names": read_gene_names(inp.positions[0]) if inp.positions else None}
extra = write_predixcan_db(out.db, models, **about)
written = write_predixcan_covariance(
    out.covariance, models, bed=plink_prefix(inp.bed), phenotypes=inp.phenotypes,
    covariates=inp.covariates, transform=params.transform, max_snps=params.max_snps)
keep = predixcan_filter(extra)
write_predixcan_db(out.filtered_db, [m for m in models if m[0] in set(keep)], **about)
filter_covariance(out.covariance, out.filtered_covariance, keep)
print(f"{out.db}: {len(extra)} genes, {len(written)} with covariance rows; "
      f"{out.filtered_db}: {len(keep)} genes (PredictDB's filter: CV correlation > 0.1, "
      f"p < 0.05)", file=sys.stderr)
