#!/usr/bin/env bash
# Ionic-transport analysis of the Cu7PS6 runs made by run_cu7ps6.sh: tracer D per species (GLS),
# sigma_ion, Haven ratio, Cu sites and jumps (two core radii), Cu density maps, sigma_ion(T)
# Arrhenius. Full outputs go to runs/ionic-cu7ps6-analysis/ (ignored); the small ones (JSON,
# CSV, PNG; no CUBE files) are copied to scripts/ionic/cu7ps6/.
set -euo pipefail
cd "$(dirname "$0")/../.."
TEMPS=${TEMPS:-300 450 550 650}
RUNS=(); for T in $TEMPS; do RUNS+=("runs/ionic-cu7ps6-${T}K"); done
OUT=runs/ionic-cu7ps6-analysis
nice -n 10 .venv/bin/mdargy ionic all "${RUNS[@]}" -o "$OUT" --force --hkl 1 1 1 --offset 0 0.25 \
  | tee "$OUT.log"
for T in $TEMPS; do
  nice -n 10 .venv/bin/mdargy ionic sites "runs/ionic-cu7ps6-${T}K" --core-radius-A 0.5 \
    -o "$OUT/core0.5-${T}K" --force | tee -a "$OUT.log"
done
R=scripts/ionic/cu7ps6; mkdir -p "$R"
cp "$OUT.log" "$R/analysis.log"
cp "$OUT"/sigma_arrhenius.json "$OUT"/sigma_vs_T.csv "$OUT"/sigma_arrhenius.png "$R/" 2>/dev/null || true
for d in "$OUT"/[0-9][0-9]-*; do
  b=$(basename "$d"); mkdir -p "$R/$b"
  cp "$d"/diffusion.csv "$d"/sites.json "$d"/jumps.csv "$d"/density.json \
     "$d"/msd.png "$d"/charge_msd.png "$d"/density_111_*.png "$R/$b/"
  # the conductivity without its 10,001-point charge MSD (that is in charge_msd.csv, not kept)
  .venv/bin/python -c "import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k) for k in ('time_ps','charge_msd_e2A2')]; json.dump(d, open(sys.argv[2],'w'), indent=1)" \
     "$d"/conductivity.json "$R/$b/conductivity.json"
done
for T in $TEMPS; do mkdir -p "$R/core0.5-${T}K"; cp "$OUT/core0.5-${T}K/sites.json" "$R/core0.5-${T}K/"; done
# Arrhenius law of the tracer D (bounded species are left out)
.venv/bin/mdargy msd "$OUT"/0*/msd.json -o "$OUT/D_arrhenius" --force | tee -a "$OUT.log"
mkdir -p "$R/D_arrhenius"; cp "$OUT"/D_arrhenius/arrhenius.* "$R/D_arrhenius/"
