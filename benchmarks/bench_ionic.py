#!/usr/bin/env python
"""Ionic-transport speed: charge MSD vs the self MSD, site search (scipy vs freud), density
grid (ours vs freud's GaussianDensity), D by GLS vs kinisi — same data, same process.

Usage::

    .venv/bin/python benchmarks/bench_ionic.py runs/ionic-cu7ps6-550K/traj.mdtraj
    .venv/bin/python benchmarks/bench_ionic.py --synthetic --atoms 448 --frames 10000

The trajectory is an mdargy EMD output (Cu7PS6, 448 atoms) or a synthetic random walk of the
same size. Times are wall-clock, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "ionic"))


def best(fn, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traj", nargs="?")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--atoms", type=int, default=448)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-kinisi", action="store_true")
    a = ap.parse_args(argv)

    from mdargy.analysis.conductivity import atom_charges, charge_displacement
    from mdargy.analysis.density import density_grid
    from mdargy.analysis.diffusion import diffusion_coefficients
    from mdargy.analysis.msd import compute_msd
    from mdargy.analysis.sites import nearest_sites, tile_reference
    from mdargy.structures.ionic_reference import site_reference

    ref, ops, _ = site_reference("cu7ps6")
    if a.synthetic or not a.traj:
        rng = np.random.default_rng(0)
        n_cu = a.atoms // 2
        el = np.array(["Cu"] * n_cu + ["P"] * (a.atoms // 14) + ["S"] * (a.atoms - n_cu
                                                                         - a.atoms // 14))
        box = np.eye(3) * 2 * ref.cell_A[0, 0]
        pos = np.cumsum(rng.normal(scale=0.05, size=(a.frames, a.atoms, 3)), axis=0)
        pos += rng.uniform(0, box[0, 0], (1, a.atoms, 3))
        dt = 0.02
        label = f"synthetic walk, {a.atoms} atoms x {a.frames} frames"
    else:
        from mdargy.io.trajectory import load_trajectory

        t = load_trajectory(a.traj, velocities=False)
        pos, el, dt, box = np.asarray(t.positions), np.asarray(t.elements), t.dt_ps, \
            np.mean(t.boxes_A, axis=0)
        label = f"{a.traj}, {pos.shape[1]} atoms x {pos.shape[0]} frames"
    print(f"data: {label}")
    try:
        q = atom_charges(el)
    except Exception:  # synthetic composition may not be neutral: use ±1 alternating
        q = np.where(np.arange(len(el)) % 2 == 0, 1.0, -1.0)

    t_self, _ = best(lambda: compute_msd(pos, dt, species=el), a.repeat)
    t_charge, _ = best(lambda: compute_msd(charge_displacement(pos, q), dt, remove_com=False),
                       a.repeat)
    print(f"self MSD (all species, FFT)         {t_self:8.3f} s")
    print(f"charge MSD (sum over atoms + 1 FFT) {t_charge:8.3f} s   ratio charge/self "
          f"{t_charge / t_self:.3f}")
    # a direct all-origins charge MSD over 64 lags (what a loop-over-lags code does, e.g.
    # kinisi's mean-squared total displacement)
    X = charge_displacement(pos, q)[:, 0]
    lags = np.unique(np.linspace(1, len(X) - 1, 64).astype(int))

    def direct():
        return [np.mean(np.sum((X[L:] - X[:-L]) ** 2, axis=1)) for L in lags]

    t_dir, _ = best(direct, a.repeat)
    print(f"direct charge MSD, 64 lags          {t_dir:8.3f} s   (after the same sum)")

    cu = np.flatnonzero(el == "Cu")
    frac, _, reps = tile_reference(ref, box)
    xs = pos[::10, cu]
    t_sc, (i1, _) = best(lambda: nearest_sites(xs, box, frac, engine="scipy"), a.repeat)
    try:
        t_fr, (i2, _) = best(lambda: nearest_sites(xs, box, frac, engine="freud"), a.repeat)
        agree = np.mean(i1 == i2)
        print(f"site search {xs.shape[0]} frames x {len(cu)} Cu: scipy {t_sc:.3f} s, freud "
              f"{t_fr:.3f} s (freud/scipy {t_fr / t_sc:.2f}), same site for {100 * agree:.3f} %")
    except ImportError:
        print(f"site search: scipy {t_sc:.3f} s (freud not installed)")

    xd = pos[::5, cu]
    t_d, d = best(lambda: density_grid(xd, box, shape=(48,) * 3, reps=reps, sigma_A=0.3),
                  a.repeat)
    t_ds, _ = best(lambda: density_grid(xd, box, shape=(48,) * 3, reps=reps, sigma_A=0.3,
                                        ops=ops), 1)
    print(f"density 48^3, {xd.shape[0]} frames: ours {t_d:.3f} s (+96-op symmetrisation "
          f"{t_ds - t_d:.3f} s)")
    try:
        import freud

        fbox = freud.box.Box.from_matrix(box.T)
        gd = freud.density.GaussianDensity((96, 96, 96), 1.5, 0.3)

        n_fd = max(1, xd.shape[0] // 20)
        t_fd, _ = best(lambda: [gd.compute((fbox, fbox.wrap(xd[f] - 0.5 * box.sum(axis=0))))
                                for f in range(n_fd)], 1)
        print(f"freud GaussianDensity 96^3 over the supercell: {t_fd / n_fd * xd.shape[0]:.3f} s "
              f"(extrapolated from {n_fd} frames; ours/freud "
              f"{t_d / (t_fd / n_fd * xd.shape[0]):.3f})")
    except ImportError:
        pass

    if not a.skip_kinisi:
        from kinisi_peer import kinisi_diffusion

        sub = pos[:, cu][:: max(1, len(pos) // 2000)]
        dts = dt * max(1, len(pos) // 2000)
        t_m, r = best(lambda: diffusion_coefficients(sub, dts, species=["Cu"] * len(cu),
                                                     remove_com=False).diffusion[0], 1)
        w0 = r.window_ps[0]
        D_k, s_k, t_k = kinisi_diffusion(sub, np.diag(box), dts, ["Cu"] * len(cu), "Cu", w0)
        print(f"D (Cu, {sub.shape[0]} frames): mdargy GLS {r.D_cm2_s:.4g} ± {r.D_err_cm2_s:.2g} "
              f"in {t_m:.2f} s; kinisi {D_k:.4g} ± {s_k:.2g} in {t_k:.2f} s "
              f"(kinisi/mdargy time {t_k / t_m:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
