"""Cu7PS6 (P2_13, shipped MTP) lattice dynamics at one temperature: the whole chain, resumable.

    # 1. an EMD run at T (448 atoms, NPT equilibration, NVE production, a frame every 0.1 ps)
    mdargy emd inputs/examples/cu7ps6_emd_300K.toml -o runs/lattice/cu7ps6-emd-100K -T 100 \\
        --set production_ps=20 --set dump_every_fs=100
    # 2. this script (one core, nice): snapshots -> fit -> phonons -> Wigner kappa
    nice -n 10 .venv/bin/python scripts/lattice/cu7ps6.py runs/lattice/cu7ps6-emd-100K \\
        results/cu7ps6/lattice/T100K --snapshots 25 --cutoffs 7.5 4.0 --mesh 3 --coarse-mesh 2

Each stage's output is kept; re-running skips finished stages (delete wigner.json to redo kappa
at another mesh). Wall time and peak memory of each stage go to lattice.json.
"""

import argparse
import sys

from mdargy.lattice.pipeline import lattice_from_run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("output_dir")
    p.add_argument("--snapshots", type=int, default=25)
    p.add_argument("--cutoffs", type=float, nargs="+", default=[7.5, 4.0])
    p.add_argument("--cv-splits", type=int, default=3)
    p.add_argument("--mesh", type=int, default=3)
    p.add_argument("--coarse-mesh", type=int, default=None)
    p.add_argument("--dos-mesh", type=int, default=8)
    p.add_argument("--no-wigner", action="store_true")
    a = p.parse_args(argv)
    res = lattice_from_run(a.run_dir, a.output_dir, n_snapshots=a.snapshots,
                           cutoffs_A=a.cutoffs, cv_splits=a.cv_splits, mesh=a.mesh,
                           coarse_mesh=a.coarse_mesh, dos_mesh=a.dos_mesh,
                           wigner=not a.no_wigner,
                           progress=lambda m: print(m, flush=True))
    print(res.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
