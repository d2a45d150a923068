#!/bin/sh
# Resumable MD of the Green-Kubo validation (one rank, nice 10). Re-run the same line after a
# kill: the driver continues from its last checkpoint; a finished run is reported as done.
#   sh scripts/gk/run_md.sh scripts/gk/cu7ps6_300K.toml > runs/gk/cu7ps6.log 2>&1 &
cd "$(dirname "$0")/../.." || exit 1
exec nice -n 10 .venv/bin/python -m mdargy emd "$@"
