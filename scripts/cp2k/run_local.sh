#!/usr/bin/env bash
# The local (one core) CP2K queue behind results/cu7ps6/dft/: one CP2K process at a time,
# single-threaded, niced. Resumable: rerun it and finished labels are skipped.
#   1. frame 0 at 400 Ry (timing), then at 500 Ry (cutoff convergence);
#   2. the validation set at 400 Ry: the first F-43m frame (550 K, the transport phase);
#   3. frame 0 at 700 Ry (the Cu forces moved by 0.09 eV/Å RMS between 400 and 500 Ry, P and S
#      by 1e-4);
#   4. E(a): the P2_13 cell at five lattice constants (results/cu7ps6/dft/ea_frames_56.extxyz,
#      clamped ions), for the PBEsol lattice constant;
#   5. frame 0 with 2x2x2 k-points (400 Ry), against its Γ-point label: the k-point check;
#   6. the validation set at 400 Ry, all in file order (interleaved conditions);
#   7. frame 0 at 300 Ry (the cutoff trend; last, since CPU here was scarce).
#   0. first, the labels committed in results/cu7ps6/dft/ are restored into OUT, so that a fresh
#      machine resumes where the committed labels stop instead of redoing them.
# Usage: nohup bash scripts/cp2k/run_local.sh runs/dft > runs/dft/queue.log 2>&1 &
set -uo pipefail
OUT=${1:-runs/dft}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
FRAMES=${FRAMES:-$ROOT/results/cu7ps6/dft/frames_56.extxyz}
export OMP_NUM_THREADS=1
L="nice -n 15 $PY $ROOT/scripts/cu7ps6/label.py label"
R="$PY $ROOT/scripts/cu7ps6/label.py restore"
RES=$ROOT/results/cu7ps6/dft
[ -f "$RES/pbesol_400Ry_56.extxyz.gz" ] && \
    $R "$HERE/pbesol_gamma.toml" "$FRAMES" "$RES/pbesol_400Ry_56.extxyz.gz" "$OUT/pbesol_400Ry"
for c in 300 500 700; do
    f=$RES/cutoff_${c}Ry_56.extxyz.gz
    [ -f "$f" ] && $R "$HERE/convergence/pbesol_gamma_${c}Ry.toml" "$FRAMES" "$f" "$OUT/pbesol_${c}Ry"
done
[ -f "$RES/kpoints_222_56.extxyz.gz" ] && $R "$HERE/convergence/pbesol_k222_400Ry.toml" \
    "$FRAMES" "$RES/kpoints_222_56.extxyz.gz" "$OUT/pbesol_k222_400Ry"
[ -f "$RES/ea_pbesol_400Ry_56.extxyz.gz" ] && $R "$HERE/pbesol_gamma.toml" \
    "$RES/ea_frames_56.extxyz" "$RES/ea_pbesol_400Ry_56.extxyz.gz" "$OUT/ea_pbesol_400Ry"
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry" --only 0
$L "$HERE/convergence/pbesol_gamma_500Ry.toml" "$FRAMES" "$OUT/pbesol_500Ry" --only 0
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry" --only 4
$L "$HERE/convergence/pbesol_gamma_700Ry.toml" "$FRAMES" "$OUT/pbesol_700Ry" --only 0
$L "$HERE/pbesol_gamma.toml" "$RES/ea_frames_56.extxyz" "$OUT/ea_pbesol_400Ry"
$L "$HERE/convergence/pbesol_k222_400Ry.toml" "$FRAMES" "$OUT/pbesol_k222_400Ry" --only 0
$L "$HERE/pbesol_gamma.toml" "$FRAMES" "$OUT/pbesol_400Ry"
$L "$HERE/convergence/pbesol_gamma_300Ry.toml" "$FRAMES" "$OUT/pbesol_300Ry" --only 0
