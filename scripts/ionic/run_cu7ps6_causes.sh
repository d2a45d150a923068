#!/usr/bin/env bash
# Tests of two causes of the D_Cu gap to the reference paper, at 550 K with the shipped MTP and the
# protocol of run_cu7ps6.sh (10 ps NPT at 0 bar, then NVE, frames every 20 fs):
#   * the Cu arrangement: the shipped 448-atom cell repeats ONE random 56-atom placement 2x2x2
#     (Cu7PS6_F-43m_seed1.cif); here two 448-atom cells whose 224 Cu are placed at random over
#     the whole supercell (seeds 2 and 3; scripts/cu7ps6/make_structures.py --cells 2 2 2);
#   * the cell size: a 1512-atom cell (3x3x3, Cu random over the whole cell, seed 4), 100 ps.
# One rank, niced, resumable (a finished run is skipped by mdargy emd's resume). Trajectories go
# to runs/ (ignored); D per species (mdargy msd) is copied to scripts/ionic/cu7ps6/causes/.
#   nohup scripts/ionic/run_cu7ps6_causes.sh > runs/ionic-causes.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
R=scripts/ionic/cu7ps6/causes; mkdir -p "$R"
run() {  # name structure production_ps seed
  local out=runs/ionic-cu7ps6-550K-$1
  nice -n 10 .venv/bin/mdargy emd inputs/examples/cu7ps6_emd_550K.toml -q -T 550 --seed "$4" \
    -o "$out" --set "structure=$2" --set 'replicate=[1,1,1]' --set "production_ps=$3" \
    --set dump_every_fs=20 --set checkpoint_every_ps=50 || [ -f "$out/emd.json" ]
  nice -n 10 .venv/bin/mdargy msd "$out/traj.nc" -o "$out/msd" --force
  mkdir -p "$R/$1"; cp "$out/msd/"*.csv "$out/msd/"*.png "$R/$1/"
}
run 448seed2 ../structures/Cu7PS6_F-43m_2x2x2_seed2.cif 200 5502
run 448seed3 ../structures/Cu7PS6_F-43m_2x2x2_seed3.cif 200 5503
mkdir -p runs/structures
[ -f runs/structures/Cu7PS6_F-43m_3x3x3_seed4.cif ] || \
  .venv/bin/python scripts/cu7ps6/make_structures.py --cells 3 3 3 --seed 4 --out runs/structures
run 1512seed4 "$PWD/runs/structures/Cu7PS6_F-43m_3x3x3_seed4.cif" 100 5504
