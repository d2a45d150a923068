#!/usr/bin/env python
"""VACF + phonon DOS speed and memory: mdargy vs ``tidynamics.acf`` looped over atoms.

Usage::

    .venv/bin/python benchmarks/bench_dos.py                      # 4,000 atoms x 10,000 frames
    .venv/bin/python benchmarks/bench_dos.py --atoms 1000 --frames 4096

Same cached LAMMPS trajectory as ``bench_msd.py`` (LJ argon velocities, Å/ps). Both
contenders produce the mass-weighted VACF summed over atoms and its Hann-windowed cosine
transform (the peer's transform is done with the same few numpy lines, negligible next to the
per-atom loop); the two DOS curves are compared.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from bench_msd import lj_trajectory, measure


def run_mdargy(v, dt, masses, workers, max_lag):
    from mdargy.analysis.dos import compute_dos

    return compute_dos(v, dt, ["Ar"] * v.shape[1], masses, max_lag=max_lag, workers=workers)


def run_tidynamics(v, dt, masses, max_lag):
    import tidynamics

    from mdargy.analysis.dos import lag_window

    C = np.zeros(v.shape[0])
    for i in range(v.shape[1]):
        C += masses[i] * tidynamics.acf(v[:, i, :])  # unbiased, all origins, x+y+z
    c = C[: max_lag + 1] * lag_window("hann", max_lag + 1)
    n_fft = 8 * max_lag
    sym = np.zeros(n_fft)
    sym[: max_lag + 1] = c
    sym[n_fft - max_lag :] = c[:0:-1]
    g = 2 * dt * np.fft.rfft(sym).real
    nu = np.arange(g.size) / (n_fft * dt)
    return nu, g * 3 * v.shape[1] / np.trapezoid(g, nu)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--atoms", type=int, default=4000)
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-peer", action="store_true")
    args = p.parse_args(argv)
    _, v, dt = lj_trajectory(args.atoms, args.frames)
    n_frames, n_atoms, _ = v.shape
    masses = np.full(n_atoms, 39.948)
    max_lag = n_frames // 2
    print(f"\nVACF + DOS benchmark: {n_atoms} atoms x {n_frames} frames (velocities "
          f"{v.nbytes / 2**20:.0f} MiB float64), max_lag {max_lag}, {os.cpu_count()} cores")
    run_mdargy(v[:50, :20], dt, masses[:20], 1, 10)  # warm-up
    rows = {}
    t, mem, ours, cpu = measure(lambda: run_mdargy(v, dt, masses, 1, max_lag))
    rows["mdargy compute_dos, 1 thread"] = (t, mem, cpu)
    if args.workers > 1:
        t, mem, _, cpu = measure(lambda: run_mdargy(v, dt, masses, args.workers, max_lag))
        rows[f"mdargy compute_dos, {args.workers} threads"] = (t, mem, cpu)
    if not args.skip_peer:
        t, mem, (nu, g), cpu = measure(lambda: run_tidynamics(v, dt, masses, max_lag))
        rows["tidynamics.acf looped over atoms"] = (t, mem, cpu)
        gi = np.interp(ours.freq_THz, nu, g)
        diff = np.max(np.abs(gi - ours.dos_per_THz)) / ours.dos_per_THz.max()
    print(f"\n{'contender':<40} {'wall s':>9} {'CPU s':>9} {'peak extra MiB':>15}")
    for k, (t, mem, cpu) in rows.items():
        print(f"{k:<40} {t:>9.3f} {cpu:>9.3f} {mem:>15.1f}")
    t1, _, c1 = rows["mdargy compute_dos, 1 thread"]
    tN = rows.get(f"mdargy compute_dos, {args.workers} threads", (None,))[0]
    if not args.skip_peer:
        tp, _, cp = rows["tidynamics.acf looped over atoms"]
        line = f"\nratio tidynamics / mdargy: 1 thread {tp / t1:.1f}x [CPU {cp / c1:.1f}x]"
        if tN:
            line += f", {args.workers} threads {tp / tN:.1f}x"
        print(line + " (target >= 5x)")
        print(f"max |DOS difference| / max DOS: {diff:.1e}")
    print(f"sum rule: integral of the DOS = {np.trapezoid(ours.dos_per_THz, ours.freq_THz):.6f} "
          f"(3N = {3 * n_atoms})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
