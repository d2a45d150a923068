#!/usr/bin/env bash
# Cu7PS6 (F-43m, random Cu, seed 1, 448 atoms) with the shipped MTP at several temperatures:
# 10 ps NPT at 0 bar, then 200 ps NVE, frames every 20 fs. One rank, niced, resumable (a killed
# run continues from its checkpoint; a finished one is skipped). Trajectories go to runs/ (ignored).
#   nohup scripts/ionic/run_cu7ps6.sh > runs/ionic-cu7ps6.log 2>&1 &
#   TEMPS="" REPLICA_SEEDS="551 552 553" scripts/ionic/run_cu7ps6.sh   # 550 K replicas
#   TEMPS="" P213=1 scripts/ionic/run_cu7ps6.sh                         # ordered phase, 300 K
set -euo pipefail
cd "$(dirname "$0")/../.."
for T in ${TEMPS-550 300 450 650}; do
  nice -n 10 .venv/bin/mdargy emd inputs/examples/cu7ps6_emd_550K.toml -q \
    -T "$T" --seed "$T" -o "runs/ionic-cu7ps6-${T}K" \
    --set production_ps=200 --set dump_every_fs=20 --set checkpoint_every_ps=50
done
# replicas at 550 K (other seeds, 100 ps) to check sigma(D) and sigma(sigma_ion) across runs
for S in ${REPLICA_SEEDS:-}; do
  nice -n 10 .venv/bin/mdargy emd inputs/examples/cu7ps6_emd_550K.toml -q \
    -T 550 --seed "$S" -o "runs/ionic-cu7ps6-550K-seed$S" \
    --set production_ps=100 --set dump_every_fs=20 --set checkpoint_every_ps=50
done
# the ordered P2_13 phase at 300 K (the paper's low-temperature phase), 100 ps
if [ -n "${P213:-}" ]; then
  nice -n 10 .venv/bin/mdargy emd inputs/examples/cu7ps6_emd_300K.toml -q \
    -o runs/ionic-cu7ps6-P213-300K --set production_ps=100 --set dump_every_fs=20 \
    --set checkpoint_every_ps=50
fi
