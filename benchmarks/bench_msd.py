#!/usr/bin/env python
"""MSD speed and memory: mdargy vs MDAnalysis, freud and the FFT floor, in one process.

Usage::

    .venv/bin/python benchmarks/bench_msd.py                      # 4,000 atoms x 10,000 frames
    .venv/bin/python benchmarks/bench_msd.py --atoms 1000 --frames 4096
    .venv/bin/python benchmarks/bench_msd.py --frames 16384 --only mdargy   # memory case

The trajectory is LJ argon made with LAMMPS by ``benchmarks/make_trajectory.py`` (shared with
``bench_read.py``; cached in ``benchmarks/data/``, git-ignored), read from its mdargy binary file
and held fully in memory. Every contender gets the same float64 array; the time is wall-clock, the memory is
the peak resident-set growth during the call (sampled every 2 ms from ``/proc/self/statm``, so
C/C++ allocations such as freud's are seen too), beyond the input array.

Contenders
----------
mdargy (1 thread / N threads)
    :func:`mdargy.analysis.msd.compute_msd` (COM removal off, so all compute the same MSD).
MDAnalysis
    ``EinsteinMSD(u, msd_type="xyz", fft=True).run()`` on a MemoryReader universe (its per-atom
    loop over ``tidynamics.msd``).
freud
    ``freud.msd.MSD(mode="window").compute(positions)`` (float32 internally).
FFT floor
    Just the forward real FFTs that any all-origins FFT MSD must do (one per atom and direction
    at the padded length), timed alone on preallocated buffers with ``scipy.fft`` on one thread:
    the practical flop bound. The theoretical count ``2.5 n log2 n`` flops per real FFT is also
    printed with the rate achieved.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import threading
import time

import numpy as np

PAGE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- measurement
def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def _cpu_seconds() -> float:
    """CPU time of this process (all threads), user + system."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class PeakRSS:
    """Peak growth of the resident set size while the block runs."""

    def __init__(self, interval=0.002):
        self.interval = interval

    def __enter__(self):
        self.cpu0 = _cpu_seconds()
        self.base = rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        self.t0 = time.perf_counter()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = _cpu_seconds() - self.cpu0
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_bytes())
        self.extra_MB = (self.peak - self.base) / 2**20
        return False


def measure(fn):
    """(wall seconds, peak extra MiB, result, CPU seconds) of ``fn()``."""
    import gc

    gc.collect()
    with PeakRSS() as m:
        out = fn()
    return m.seconds, m.extra_MB, out, m.cpu_seconds


# ----------------------------------------------------------------------------- trajectory
def lj_trajectory(n_atoms=4000, n_frames=10000, velocities=True):
    """The shared benchmark trajectory (LJ argon from LAMMPS, ``make_trajectory.py``), in RAM.

    Returns (positions (F, N, 3) Å unwrapped float64, velocities Å/ps or None, dt_ps).
    """
    from make_trajectory import make_trajectory

    from mdargy.io.trajectory import load_trajectory

    paths = make_trajectory(n_atoms, n_frames)
    traj = load_trajectory(paths["binary"], velocities=velocities)
    pos = np.array(traj.positions, dtype=np.float64)  # read the memory map into RAM
    vel = np.array(traj.velocities, dtype=np.float64) if velocities else None
    return pos, vel, float(traj.dt_ps)


# ----------------------------------------------------------------------------- contenders
def run_mdargy(x, dt, workers):
    from mdargy.analysis.msd import compute_msd

    return compute_msd(x, dt, remove_com=False, workers=workers).total()


def run_mdanalysis(x, dt):
    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.coordinates.memory import MemoryReader

    u = mda.Universe.empty(x.shape[1], trajectory=True)
    u.load_new(x, format=MemoryReader, order="fac", dt=dt)
    m = EinsteinMSD(u, select="all", msd_type="xyz", fft=True)
    return lambda: (m.run(), m.results.timeseries)[1]


def run_freud(x):
    import freud

    m = freud.msd.MSD(mode="window")
    return np.asarray(m.compute(x).msd, dtype=float)


def fft_floor(x, inverse=False):
    """Fastest of numpy.fft and scipy.fft for :func:`_fft_time` (the floor is the best FFT
    this environment has)."""
    import scipy.fft

    runs = [_fft_time(x, np.fft, inverse), _fft_time(x, scipy.fft, inverse)]
    return min(runs, key=lambda r: r[3])


def _fft_time(x, fft, inverse=False):
    """Time of the FFTs alone, on preallocated buffers, excluding every other operation.

    ``inverse=False``: one forward real FFT per atom and direction (what mdargy does, since it
    sums the power spectra over atoms before a single inverse FFT per species). ``inverse=True``:
    forward + inverse per atom and direction, the flop count of a conventional per-atom FFT MSD
    (tidynamics, MDAnalysis).
    """
    import scipy.fft as sfft

    n_frames, n_atoms, _ = x.shape
    n_pad = sfft.next_fast_len(2 * n_frames - 1, real=True)
    chunk = max(1, int(8 * 2**20 // (3 * 8 * n_pad * 2)))
    buf = np.zeros((chunk, 3, n_pad))
    total = cpu = 0.0
    for a0 in range(0, n_atoms, chunk):
        c = min(chunk, n_atoms - a0)
        for f0 in range(0, n_frames, 256):
            f1 = min(f0 + 256, n_frames)
            buf[:c, :, f0:f1] = x[f0:f1, a0 : a0 + c, :].transpose(1, 2, 0)
        t0, c0 = time.perf_counter(), time.process_time()
        spec = fft.rfft(buf[:c], axis=2)
        if inverse:
            fft.irfft(spec, n=n_pad, axis=2)
        total += time.perf_counter() - t0
        cpu += time.process_time() - c0
    flops = (2 if inverse else 1) * 3 * n_atoms * 2.5 * n_pad * math.log2(n_pad)
    return total, flops, n_pad, cpu


# ----------------------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--atoms", type=int, default=4000)
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="threads for the multi-threaded mdargy run (default: all cores)")
    p.add_argument("--only", nargs="+", choices=("mdargy", "mdanalysis", "freud", "floor"),
                   help="run only these contenders")
    p.add_argument("--synthetic", action="store_true",
                   help="use a Gaussian random walk instead of the LAMMPS trajectory (for the "
                   "memory case when making a long LAMMPS run is too slow)")
    args = p.parse_args(argv)
    want = set(args.only or ("mdargy", "mdanalysis", "freud", "floor"))

    if args.synthetic:
        x = np.random.default_rng(0).standard_normal((args.frames, args.atoms, 3))
        np.cumsum(x, axis=0, out=x)
        x *= 0.05
        dt = 0.02
        print("input: synthetic random walk (not a LAMMPS trajectory)")
    else:
        x, _, dt = lj_trajectory(args.atoms, args.frames, velocities=False)
    n_frames, n_atoms, _ = x.shape
    print(f"\nMSD benchmark: {n_atoms} atoms x {n_frames} frames (input {x.nbytes / 2**20:.0f} "
          f"MiB float64), {os.cpu_count()} cores visible, python {sys.version.split()[0]}")
    rows = {}
    ref = None
    if "mdargy" in want:
        run_mdargy(x[:50, :50], dt, 1)  # warm-up (imports, FFT plans)
        t, mem, ref, cpu = measure(lambda: run_mdargy(x, dt, 1))
        rows["mdargy, 1 thread"] = (t, mem, cpu)
        if args.workers > 1:
            t, mem, out, cpu = measure(lambda: run_mdargy(x, dt, args.workers))
            rows[f"mdargy, {args.workers} threads"] = (t, mem, cpu)
            assert np.allclose(out, ref, rtol=1e-10, atol=0)
    acc = {}
    if "mdanalysis" in want:
        fn = run_mdanalysis(x, dt)
        t, mem, out, cpu = measure(fn)
        rows["MDAnalysis EinsteinMSD(fft=True)"] = (t, mem, cpu)
        if ref is not None:
            acc["MDAnalysis (stores float32 coordinates)"] = np.max(np.abs(out[1:] - ref[1:]) / ref[1:])
    if "freud" in want:
        t, mem, out, cpu = measure(lambda: run_freud(x))
        rows["freud MSD(mode='window')"] = (t, mem, cpu)
        if ref is not None:
            acc["freud (float32)"] = np.max(np.abs(out[1:] - ref[1:]) / ref[1:])
            acc["freud (lag 1)"] = abs(out[1] - ref[1]) / ref[1]
    floor = None
    if "floor" in want:
        tf, flops, n_pad, cf = fft_floor(x)
        floor = cf
        rows[f"FFT floor: forward rfft only (n={n_pad})"] = (tf, float("nan"), cf)
        tb, flops_b, _, cb = fft_floor(x, inverse=True)
        rows["FFT bound: forward+inverse per atom"] = (tb, float("nan"), cb)

    print(f"\n{'contender':<44} {'wall s':>9} {'CPU s':>9} {'peak extra MiB':>15}")
    for k, (t, mem, cpu) in rows.items():
        print(f"{k:<44} {t:>9.3f} {cpu:>9.3f} {mem:>15.1f}")
    print("  (FFT lines: the FFT calls alone, summed over chunks)")
    if floor is not None:
        print(f"  theoretical 2.5 n log2 n flops, forward only: {flops / 1e9:.2f} GFLOP -> "
              f"{flops / floor / 1e9:.2f} GFLOP/s per CPU-second; forward+inverse: "
              f"{flops_b / 1e9:.2f} GFLOP")
    if "mdargy, 1 thread" in rows:
        t1, _, c1 = rows["mdargy, 1 thread"]
        tN = rows.get(f"mdargy, {args.workers} threads", (None,))[0]
        print("\nratios, peer / mdargy (wall time; in brackets CPU time, steadier on a loaded "
              "machine)")
        for k, (t, _, cpu) in rows.items():
            if k.startswith("mdargy") or k.startswith("FFT"):
                continue
            line = f"  vs {k:<36} 1 thread: {t / t1:6.1f}x [{cpu / c1:5.1f}x]"
            if tN:
                line += f"   {args.workers} threads (wall): {t / tN:6.1f}x"
            print(line)
        for k, (t, _, cpu) in rows.items():
            if k.startswith("FFT"):
                print(f"  mdargy 1 thread / {k}: {t1 / t:.2f} wall [{c1 / cpu:.2f} CPU]")
        for k, v in acc.items():
            print(f"  max relative difference vs {k}: {v:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
