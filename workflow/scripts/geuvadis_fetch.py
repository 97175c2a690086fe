from common import start

start(snakemake)  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821

from sparselmm.realdata import fetch_geuvadis  # noqa: E402

fetch_geuvadis(params.source, out.archive, deb_sha256=params.deb_sha256,
               archive_sha256=params.archive_sha256)
