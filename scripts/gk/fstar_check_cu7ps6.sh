#!/usr/bin/env bash
# Does the cepstral cutoff f* bias Green-Kubo kappa of Cu7PS6 (as it did for LJ argon, see
# README.md here)? One new 300 ps NVE run of the P2_13 cell (448 atoms, shipped MTP) at 100 K,
# analysed with the automatic f* and with f* = 1, 2, 5, 10 THz (0.5 THz needs >= 400 ps).
# About 6 core-minutes. Writes scripts/gk/validation/cu7ps6_100K_fstar.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=runs/gk-cu7ps6-100K
nice -n 10 .venv/bin/mdargy emd inputs/examples/cu7ps6_emd_300K.toml -q -T 100 --seed 1100 -o $RUN \
  --set equilibration_ps=20 --set production_ps=300 --set heat_every_fs=5 --set dump_every_fs=100
OUT=scripts/gk/validation/cu7ps6_100K_fstar.csv
echo "fstar_setting,fstar_THz,kappa_W_mK,kappa_err_W_mK,T_mean_K,duration_ps" > $OUT
for f in auto 1 2 5 10; do
  a=(); [ "$f" = auto ] || a=(--fstar-THz "$f")
  nice -n 10 .venv/bin/mdargy gk $RUN "${a[@]}" -o "$RUN-gk-f$f" --force -q > /dev/null
  .venv/bin/python -c "import json,sys; d=json.load(open(sys.argv[1])); print(','.join(str(x) for x in [sys.argv[2], d['fstar_THz'], d['kappa_W_mK'], d['kappa_err_W_mK'], d['temperature_K'], d['duration_ps']]))" \
    "$RUN-gk-f$f/gk.json" "$f" >> $OUT
done
cat $OUT
