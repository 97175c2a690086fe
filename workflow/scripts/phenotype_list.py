from common import plink_prefix, start

start(snakemake)  # noqa: F821
inp, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821

import sys  # noqa: E402

from sparselmm.cis import assign_groups, read_positions  # noqa: E402
from sparselmm.outputs import write_text, write_tsv  # noqa: E402
from sparselmm.plink import read_bim, read_fam  # noqa: E402
from sparselmm.tables import prepare_phenotypes  # noqa: E402

prefix = plink_prefix(inp.fam)
names = prepare_phenotypes(inp.phenotypes, read_fam(prefix), params.requested, params.folds,
                           out.table, binary=params.binary, binary_only=params.binary_only)
positions = read_positions(inp.positions) if params.window_kb is not None else None
groups, skipped = assign_groups(names, params.group_size, positions, read_bim(prefix),
                                params.window_kb)
for row in skipped.itertuples():
    print(f"warning: phenotype {row.phenotype} skipped: {row.reason}", file=sys.stderr)
if groups.empty:
    raise SystemExit(f"no phenotype left to fit: all {len(names)} skipped (see {out.skipped}"
                     + (f"; do the IDs of {inp.positions} match the phenotype table's?)"
                        if positions is not None else ")"))
write_tsv(groups, out.groups)
write_tsv(skipped, out.skipped)
write_text(out.names, "\n".join(groups["phenotype"]) + "\n")
print(f"{len(groups)} phenotypes in {groups['group'].nunique()} groups"
      + (f", {len(skipped)} skipped" if len(skipped) else ""), file=sys.stderr)
