#!/usr/bin/env bash
# The local (one core) CP2K queue behind results/cu7ps6/dft/: one CP2K process at a time,
# single-threaded, niced. Resumable: rerun it and finished labels are skipped.
#   1. frame 0 at 400 Ry (timing), then at 500 Ry (cutoff convergence);
#   2. the validation set at 400 Ry: the first F-43m frame (550 K, the transport phase);
#   3. frame 0 at 700 Ry (the Cu forces moved by 0.09 eV/Å RMS between 400 and 500 Ry, P and S
#      by 1e-4);
#   4. the validation set at 400 Ry, all in file order (interleaved conditions);
#   5. frame 0 at 300 Ry (the cutoff trend; last, since CPU here was scarce).
# Usage: nohup bash scripts/cp2k/run_local.sh runs/dft > runs/dft/queue.log 2>&1 &
set -uo pipefail
OUT=${1:-runs/dft}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
FRAMES=${FRAMES:-$ROOT/results/cu7ps6/dft/frames_56.extxyz}
export OMP_NUM_THREADS=1
L="nice -n 15 $PY $ROOT/scripts/cu7ps6/label.py label"
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry" --only 0
$L "$HERE/convergence/pbesol_gamma_500Ry.toml" "$FRAMES" "$OUT/pbesol_500Ry" --only 0
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry" --only 4
$L "$HERE/convergence/pbesol_gamma_700Ry.toml" "$FRAMES" "$OUT/pbesol_700Ry" --only 0
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry"
$L "$HERE/convergence/pbesol_gamma_300Ry.toml" "$FRAMES" "$OUT/pbesol_300Ry" --only 0
