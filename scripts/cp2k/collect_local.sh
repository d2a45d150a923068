#!/usr/bin/env bash
# Gather what scripts/cp2k/run_local.sh has labelled into results/cu7ps6/dft/ (compressed
# labels, comparison tables). Cheap (seconds); safe to run while labelling goes on.
# Usage: bash scripts/cp2k/collect_local.sh [runs/dft]
set -euo pipefail
OUT=${1:-runs/dft}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
RES=$ROOT/results/cu7ps6/dft
FRAMES=$RES/frames_56.extxyz
L="$PY $ROOT/scripts/cu7ps6/label.py"
C="$PY $ROOT/scripts/cu7ps6/compare_labels.py"
$L collect "$FRAMES" "$OUT/pbesol_400Ry" "$RES/pbesol_400Ry_56.extxyz.gz"
[ -d "$OUT/sevennet" ] && $L collect "$FRAMES" "$OUT/sevennet" "$RES/sevennet_56.extxyz.gz"
cut=()
for c in 300 400 500 700; do  # the highest labelled cutoff is the reference (last)
    d=$OUT/pbesol_${c}Ry
    if [ -d "$d/labels" ] && [ -n "$(ls "$d/labels")" ]; then
        if [ "$c" != 400 ]; then
            $L collect "$FRAMES" "$d" "$RES/cutoff_${c}Ry_56.extxyz.gz"
        fi
        cut+=(--labels "$c=$d")
    fi
done
if [ ${#cut[@]} -ge 4 ]; then
    $C cutoff "${cut[@]}" --json "$RES/cutoff_convergence.json" | tee "$RES/cutoff_convergence.md"
fi
# k-points: frame 0 with 2x2x2 Monkhorst-Pack against its Γ-point label (the reference, last)
if [ -d "$OUT/pbesol_k222_400Ry/labels" ] && [ -n "$(ls "$OUT/pbesol_k222_400Ry/labels")" ]; then
    $L collect "$FRAMES" "$OUT/pbesol_k222_400Ry" "$RES/kpoints_222_56.extxyz.gz"
    $C cutoff --labels "k 2x2x2=$OUT/pbesol_k222_400Ry" --labels "Gamma=$OUT/pbesol_400Ry" \
        --json "$RES/kpoints_check.json" | tee "$RES/kpoints_check.md"
fi
args=(--dft "$RES/pbesol_400Ry_56.extxyz.gz" --mtp "$ROOT/inputs/potentials/Cu7PS6.mtp")
[ -f "$RES/sevennet_56.extxyz.gz" ] && args+=(--labels "SevenNet-0=$RES/sevennet_56.extxyz.gz")
$C models "${args[@]}" --json "$RES/compare_pbesol_56.json" | tee "$RES/compare_pbesol_56.md"
# the MTP against its own labeler on all frames (the baseline of the table)
$C models --dft "$RES/sevennet_56.extxyz.gz" --mtp "$ROOT/inputs/potentials/Cu7PS6.mtp" \
    --json "$RES/compare_sevennet_56.json" | tee "$RES/compare_sevennet_56.md"
# E(a): the PBEsol labels of the scaled P2_13 cells, the ML models' clamped and relaxed-ion sets
# (made by scripts/cu7ps6/lattice_constant.py relax; SevenNet-0's in its own environment), and the
# Birch-Murnaghan fits
EA=$RES/ea_frames_56.extxyz
if [ -d "$OUT/ea_pbesol_400Ry/labels" ]; then
    $L collect "$EA" "$OUT/ea_pbesol_400Ry" "$RES/ea_pbesol_400Ry_56.extxyz.gz"
fi
for m in mtp sevennet; do
    [ -d "$OUT/ea_$m/labels" ] && $L collect "$EA" "$OUT/ea_$m" "$RES/ea_${m}_56.extxyz.gz"
    [ -f "$OUT/ea_${m}_relaxed.extxyz" ] && gzip -nc "$OUT/ea_${m}_relaxed.extxyz" > "$RES/ea_${m}_relaxed_56.extxyz.gz"
done
fit=()
[ -f "$RES/ea_pbesol_400Ry_56.extxyz.gz" ] && fit+=(--labels "PBEsol (CP2K)=$RES/ea_pbesol_400Ry_56.extxyz.gz")
[ -f "$RES/ea_sevennet_56.extxyz.gz" ] && fit+=(--labels "SevenNet-0=$RES/ea_sevennet_56.extxyz.gz")
[ -f "$RES/ea_sevennet_relaxed_56.extxyz.gz" ] && fit+=(--labels "SevenNet-0=$RES/ea_sevennet_relaxed_56.extxyz.gz")
[ -f "$RES/ea_mtp_56.extxyz.gz" ] && fit+=(--labels "shipped MTP=$RES/ea_mtp_56.extxyz.gz")
[ -f "$RES/ea_mtp_relaxed_56.extxyz.gz" ] && fit+=(--labels "shipped MTP=$RES/ea_mtp_relaxed_56.extxyz.gz")
if [ ${#fit[@]} -gt 0 ]; then
    $PY "$ROOT/scripts/cu7ps6/lattice_constant.py" fit "${fit[@]}" --json "$RES/lattice_constant.json" \
        | tee "$RES/lattice_constant.md"
fi
