"""Lattice dynamics: wall time and peak memory of the hiPhive fit and of phono3py's Wigner kappa.

Two parts, all contenders in one process on the same data:

``--snapshots FILE`` (Cu7PS6: ``results/cu7ps6/lattice/T100K/snapshots.npz`` from
``scripts/lattice/cu7ps6.py``): the stages of :func:`mdargy.lattice.fcfit.fit_force_constants`
(cluster space, sensing matrix, least squares) at the given cutoffs, then
:func:`mdargy.lattice.wigner.wigner_conductivity` at each ``--mesh``. Peer: none (these *are*
hiPhive and phono3py); the figures size a production run.

``--fc-export`` (LJ argon, 108 atoms): writing the phono3py fc3 array. mdargy builds the compact
array (n_prim × N × N × 27) from hiPhive's sorted cluster dictionary; the peer is hiPhive's own
``ForceConstants.get_fc_array(3)`` (full N³ array, one Python lookup per atom triplet), which is
what ``write_to_phono3py`` calls. Both give the same numbers (checked here).

    nice -n 10 .venv/bin/python benchmarks/bench_lattice.py --fc-export
    nice -n 10 .venv/bin/python benchmarks/bench_lattice.py \\
        --snapshots results/cu7ps6/lattice/T100K/snapshots.npz --cutoffs 7.5 4.0 --mesh 2 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np

from bench_msd import measure


def bench_cu7ps6(path, cutoffs, meshes, n_snapshots=None, temperature=None):
    from mdargy.lattice.fcfit import fit_force_constants
    from mdargy.lattice.snapshots import SnapshotSet
    from mdargy.lattice.phonons import read_fc2
    from mdargy.lattice.wigner import read_fc3, wigner_conductivity

    s = SnapshotSet.load(path)
    if n_snapshots:
        import dataclasses

        s = dataclasses.replace(s, displacements_A=s.displacements_A[:n_snapshots],
                                forces_eV_A=s.forces_eV_A[:n_snapshots])
    n = len(s.reference.supercell)
    print(f"{path}: {s.n_snapshots} snapshots × {n} atoms at {s.temperature_K:g} K")
    with tempfile.TemporaryDirectory() as tmp:
        wall, mib, fit, cpu = measure(lambda: fit_force_constants(
            s, cutoffs, cv_splits=0, output_dir=tmp))
        r = fit.result
        print(f"hiPhive fit, cutoffs {r.cutoffs_A} Å: {r.n_parameters} parameters "
              f"{r.n_parameters_by_order}, {r.n_force_components} rows: {wall:.1f} s wall "
              f"({cpu:.1f} s CPU), peak +{mib:.0f} MiB; stages "
              + ", ".join(f"{k} {v:.1f} s" for k, v in r.wall_s.items()))
        print(f"  force RMSE {r.rmse_eV_A:.4f} eV/Å of {r.force_rms_eV_A:.4f}, R² {r.r2:.4f}")
        fc2, fc3 = read_fc2(f"{tmp}/fc2.hdf5"), read_fc3(f"{tmp}/fc3.hdf5")
    T = temperature or s.temperature_K
    prev = None
    for m in meshes:
        wall, mib, w, cpu = measure(lambda: wigner_conductivity(
            s.reference.unitcell, s.reference.reps, fc2, fc3, [T], mesh=m))
        tot = float(w.kappa_total_scalar_W_mK[0])
        ch = f", {100 * abs(tot - prev) / tot:.1f} % from the previous mesh" if prev else ""
        print(f"phono3py Wigner {m}×{m}×{m} at {T:g} K: {wall:.1f} s wall ({cpu:.1f} s CPU), peak "
              f"+{mib:.0f} MiB; kappa_p {w.kappa_p_scalar_W_mK[0]:.4f}, kappa_c "
              f"{w.kappa_c_scalar_W_mK[0]:.4f} W/m/K{ch}")
        prev = tot


def bench_fc_export():
    import ase.build

    from mdargy.lattice.fcfit import (ase_atoms, cluster_space, force_constant_arrays,
                                      phono3py_object)

    uc = ase.build.bulk("Ar", "fcc", a=5.30, cubic=True)
    cs = cluster_space(uc, {2: 7.0, 3: 5.0})
    rng = np.random.default_rng(0)
    from hiphive import ForceConstantPotential

    fcp = ForceConstantPotential(cs, rng.normal(0, 0.01, cs.n_dofs))
    ph3 = phono3py_object(uc, (3, 3, 3))
    sc = ph3.supercell
    p2s = ph3.primitive.p2s_map
    t_ours, m_ours, ours, c_ours = measure(lambda: force_constant_arrays(fcp, sc, p2s, (3,))[3])

    def peer():
        return fcp.get_force_constants(ase_atoms(sc)).get_fc_array(3)

    t_peer, m_peer, full, c_peer = measure(peer)
    np.testing.assert_allclose(ours, full[p2s], atol=1e-12)
    print(f"fc3 export, LJ argon {len(sc)} atoms, cutoff 5 Å: mdargy compact "
          f"{t_ours:.2f} s (+{m_ours:.0f} MiB); hiPhive get_fc_array(3) {t_peer:.2f} s "
          f"(+{m_peer:.0f} MiB): {t_peer / t_ours:.1f}× [{c_peer / c_ours:.1f}× CPU]; identical")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--snapshots", help="snapshots.npz of a Cu7PS6 (or any) run")
    p.add_argument("--n-snapshots", type=int, help="use only the first N snapshots")
    p.add_argument("--cutoffs", type=float, nargs="+", default=[7.5, 4.0])
    p.add_argument("--mesh", type=int, nargs="+", default=[2, 3])
    p.add_argument("-T", "--temperature", type=float)
    p.add_argument("--fc-export", action="store_true")
    a = p.parse_args(argv)
    if a.fc_export:
        bench_fc_export()
    if a.snapshots:
        bench_cu7ps6(a.snapshots, a.cutoffs, a.mesh, a.n_snapshots, a.temperature)
    if not (a.fc_export or a.snapshots):
        p.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
