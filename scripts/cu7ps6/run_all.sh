#!/usr/bin/env bash
# Reproduce the Cu7PS6 structures and MTP end to end. Every step is resumable: re-run the same
# command after an interruption and finished work is skipped.
#
#   python -m venv /tmp/venv-train && . /tmp/venv-train/bin/activate
#   pip install torch==2.13.0            # CPU build, before anything that depends on torch
#   pip install -e '.[train]'            # mdargy + motep + sevenn + spglib
#   bash scripts/cu7ps6/run_all.sh runs/cu7ps6 sevennet
#
# LABELER=lj-standin with PLAN=dry runs the whole chain in about a minute with a Lennard-Jones
# STAND-IN labeler (no Cu7PS6 physics): a smoke test of the scripts only.
set -euo pipefail
OUT=${1:-runs/cu7ps6}
LABELER=${2:-sevennet}
PLAN=${PLAN:-paper}
LEVEL=${LEVEL:-12}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python}

$PY "$HERE/make_structures.py" --out "$OUT/structures" --force
$PY "$HERE/derive_p213.py" --labeler "$LABELER" --out "$OUT/p213" --extra-4a \
    --cif "$OUT/structures/Cu7PS6_P213_derived.cif"
export CU7PS6_P213_CIF="$OUT/structures/Cu7PS6_P213_derived.cif"
$PY "$HERE/sample.py" --labeler "$LABELER" --plan "$PLAN" --out "$OUT/data"
$PY "$HERE/train.py" --data "$OUT/data" --out "$OUT/train" --level "$LEVEL"
set +e
$PY "$HERE/active_learn.py" --data "$OUT/data" --init "$OUT/train/Cu7PS6.mtp" --out "$OUT/al" \
    --labeler "$LABELER"
AL_RC=$?
set -e
FINAL=$($PY -c "import json,sys; s=json.load(open('$OUT/al/al.json')); print(s['iterations'][-1]['potential'] if s['iterations'] else '$OUT/train/Cu7PS6.mtp')")
$PY "$HERE/report.py" --mtp "$FINAL" --data "$OUT/data" --extra-train "$OUT/al/train_all.xyz" \
    --out "$OUT/report" --labeler "$LABELER"
echo "potential: $FINAL (active learning converged: $([ $AL_RC -eq 0 ] && echo yes || echo NO))"
echo "copy it to inputs/potentials/Cu7PS6.mtp with the table of $OUT/report/rmse_table.md"
