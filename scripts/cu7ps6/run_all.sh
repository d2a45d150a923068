#!/usr/bin/env bash
# Reproduce the Cu7PS6 structures and MTP end to end. Every step is resumable: re-run the same
# command after an interruption and finished work is skipped.
#
#   python -m venv /tmp/venv-train && . /tmp/venv-train/bin/activate
#   pip install torch==2.13.0            # CPU build, before anything that depends on torch
#   pip install -e '.[train]'            # mdargy + motep + sevenn + spglib
#   bash scripts/cu7ps6/run_all.sh runs/cu7ps6 sevennet
#
# `PLAN=dry bash scripts/cu7ps6/run_all.sh /tmp/dry lj-standin` runs the whole chain in about
# 3 minutes on 2 cores with a Lennard-Jones
# STAND-IN labeler (no Cu7PS6 physics): a smoke test of the scripts only.
set -euo pipefail
OUT=${1:-runs/cu7ps6}
LABELER=${2:-sevennet}
PLAN=${PLAN:-paper}
LEVEL=${LEVEL:-10}
RANKS=${RANKS:-2}          # MPI ranks for the fits (train.py under mpirun)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python}
if [ "$PLAN" = dry ]; then   # seconds per step: checks the chain, not the physics
    AUG="--n-rattle 2 --n-contact 2 --n-strain 1 --supercells 2x1x1:1 --max-energy 1e9 --max-force 1e9"
    FIT="--level 6 --maxiter 5"
    AL="--temps 300 --cells 1x1x1 --md-ps 0.2 --frame-every 20 --check-every 2 --select 2 --max-iter 1 --maxiter-fit 3"
    REP="--dos-ps 0"
    VAL="--ps 1 --equil-ps 0.1"
else
    AUG=""
    FIT="--level $LEVEL --maxiter 40"
    AL="--temps 300 550 650 --cells 1x1x1 2x1x1 --md-ps 20 --frame-every 100 --check-every 25 --select 24 --max-iter 12 --maxiter-fit 15"
    REP=""
    VAL=""
fi

$PY "$HERE/make_structures.py" --out "$OUT/structures" --force
$PY "$HERE/derive_p213.py" --labeler "$LABELER" --out "$OUT/p213" --extra-4a \
    --cif "$OUT/structures/Cu7PS6_P213_derived.cif"
export CU7PS6_P213_CIF="$OUT/structures/Cu7PS6_P213_derived.cif"
$PY "$HERE/sample.py" --labeler "$LABELER" --plan "$PLAN" --out "$OUT/data"
$PY "$HERE/augment.py" --data "$OUT/data" --labeler "$LABELER" $AUG
MPI=""
if [ "$RANKS" -gt 1 ]; then MPI="$(dirname "$(command -v $PY)")/mpirun -np $RANKS"; fi
$MPI $PY "$HERE/train.py" --data "$OUT/data" --train-file "$OUT/data/train_augmented.xyz" \
    --out "$OUT/train" $FIT
set +e
$PY "$HERE/active_learn.py" --data "$OUT/data" --train-file "$OUT/data/train_augmented.xyz" \
    --init "$OUT/train/Cu7PS6.mtp" --out "$OUT/al" --labeler "$LABELER" $AL --fit-ranks "$RANKS"
AL_RC=$?
set -e
FINAL=$($PY -c "import json,sys; s=json.load(open('$OUT/al/al.json')); print(s['iterations'][-1]['potential'] if s['iterations'] else '$OUT/train/Cu7PS6.mtp')")
$PY "$HERE/report.py" --mtp "$FINAL" --data "$OUT/data" --extra-train "$OUT/al/train_all.xyz" \
    --out "$OUT/report" --labeler "$LABELER" $REP
# a stand-in potential may well blow up in the 448-atom validation: the dry run carries on
$PY "$HERE/validate.py" --potential "$FINAL" --out "$OUT/validate" --labeler "$LABELER" $VAL \
    || [ "$PLAN" = dry ]
echo "potential: $FINAL (active learning converged: $([ $AL_RC -eq 0 ] && echo yes || echo NO))"
echo "copy it to inputs/potentials/Cu7PS6.mtp with the tables of $OUT/report/rmse_table.md and $OUT/validate/validate.md"
