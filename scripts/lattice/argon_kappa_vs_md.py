"""LJ argon at 50 K: phono3py kappa (from TDEP force constants) against mdargy's MD kappa.

The model is the one of the Green-Kubo and NEMD validation (scripts/gk/validate.py): LJ
ε = 0.0104 eV, σ = 3.40 Å, cut at 8.5 Å and shifted, fcc a = 5.30 Å, 50 K. Here: a 4×4×4 cell
(256 atoms) NVT run, 30 snapshots, hiPhive fc2 (9.0 Å, all five shells within the LJ cutoff)
and fc3 (6.0 Å), phono3py Wigner kappa in the RTA at 50 K, with quantum
and classical heat capacities on 12³ and 16³ meshes (``--mesh 12 16 20`` for more).
Resumable (the run and the fit are kept in runs/lattice/).

    nice -n 10 .venv/bin/python scripts/lattice/argon_kappa_vs_md.py

Writes results/argon/lattice_50K.json and prints the comparison with the MD numbers in
scripts/gk/results/lj.json when that file exists.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = ROOT / "runs" / "lattice" / "ar-50K-4x4x4"
FIT = RUN / "lattice"
OUT = ROOT / "results" / "argon" / "lattice_50K.json"


def main(meshes=(12, 16)):
    from mdargy.drivers.config import EMDConfig
    from mdargy.drivers.emd import run_emd
    from mdargy.errors import AlreadyDoneError
    from mdargy.lattice.pipeline import lattice_from_run
    from mdargy.lattice.phonons import read_fc2
    from mdargy.lattice.snapshots import SnapshotSet
    from mdargy.lattice.wigner import read_fc3, wigner_conductivity
    from mdargy.io.atomic import atomic_write_json

    cfg = EMDConfig.from_dict(dict(
        structure=str(ROOT / "inputs/examples/Ar_fcc.cif"), replicate=[4, 4, 4],
        output_dir=str(RUN), temperature_K=50.0, timestep_fs=5.0, seed=2024,
        equilibration_ps=10.0, production_ensemble="nvt", production_ps=30.0,
        dump_every_fs=500.0, thermo_every_fs=500.0, checkpoint_every_ps=500.0, text_dump=False,
        potential={"kind": "lj", "cutoff_A": 8.5, "extra_commands": ["pair_modify shift yes"],
                   "masses_amu": {"Ar": 39.948},
                   "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}}}))
    try:
        run_emd(cfg, progress=False)
    except AlreadyDoneError:
        pass
    res = lattice_from_run(RUN, FIT, n_snapshots=30, cutoffs_A=[9.0, 6.0], cv_splits=5,
                           mesh=12, dos_mesh=12, progress=print)
    ref = SnapshotSet.load(FIT / "snapshots.npz").reference
    fc2, fc3 = read_fc2(FIT / "fc2.hdf5"), read_fc3(FIT / "fc3.hdf5")
    out = {"fit": {"rmse_eV_A": res.fit_rmse_eV_A, "r2": res.fit_r2,
                   "cv_rmse_eV_A": res.fit_cv_rmse_eV_A, "cutoffs_A": res.cutoffs_A},
           "kappa": []}
    for m in meshes:
        for classical in (False, True):
            w = wigner_conductivity(ref.unitcell, ref.reps, fc2, fc3, [50.0], mesh=m,
                                    classical=classical)
            row = {"mesh": m, "classical": classical,
                   "kappa_p_W_mK": float(w.kappa_p_scalar_W_mK[0]),
                   "kappa_c_W_mK": float(w.kappa_c_scalar_W_mK[0]),
                   "wall_s": w.wall_s["mesh"]}
            print(row, flush=True)
            out["kappa"].append(row)
    md = ROOT / "scripts" / "gk" / "results" / "lj.json"
    if md.is_file():
        out["md_file"] = str(md.relative_to(ROOT))
        out["md"] = json.loads(md.read_text())
    atomic_write_json(OUT, out)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(tuple(int(v) for v in sys.argv[2:]) if sys.argv[1:2] == ["--mesh"] else (12, 16)))
