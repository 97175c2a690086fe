#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh Debian machine with Python 3.11:
# Debian packages the workflow calls, then a virtual environment in .venv with
# the pinned Python dependencies and this package installed editable.
# Re-running is cheap: pip runs again only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: plink2 converts the default VCF to PLINK; apt-get/dpkg-deb
# fetch the public GEUVADIS example (qtltools-example) without root; gemma fits
# the optional method bslmm (without it, bslmm says what to install).
if ! command -v gemma >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gemma >/dev/null
fi
# R (r-base-core) writes FUSION's .wgt.RDat weights with its own save() (models.fusion)
if ! command -v Rscript >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-base-core >/dev/null
fi
if ! command -v plink2 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq plink2 >/dev/null
  else
    echo "setup.sh: plink2 is missing; install it (Debian: apt-get install plink2)" \
      "or point config.yaml's realdata.genotypes at an existing PLINK fileset" >&2
  fi
fi

PY=${PYTHON:-python3}
# Debian's system Python needs python3-venv for `python3 -m venv`
if ! "$PY" -c "import ensurepip, venv" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "setup.sh: $PY cannot create virtual environments; install python3-venv" >&2
    exit 1
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.sparselmm-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  echo "$want" >"$stamp"
fi
