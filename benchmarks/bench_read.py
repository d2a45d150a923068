"""Benchmark: reading a LAMMPS text dump (mdargy's native reader vs MDAnalysis), the NetCDF
trajectory the EMD driver writes (mdargy's reader vs MDAnalysis's NCDFReader) and mdargy's older
binary format.

Usage::

    .venv/bin/python benchmarks/bench_read.py                      # 4,000 atoms × 10,000 frames
    .venv/bin/python benchmarks/bench_read.py --frames 1000        # a smaller run

The trajectory (LJ argon, ``id type xu yu zu vx vy vz``) comes from ``make_trajectory.py``
(generated once, cached in ``benchmarks/data/``). Every reader loads all frames, positions and
velocities, into float64 arrays sorted by atom id — what an analysis needs. Each measurement
runs in a fresh forked child of this one process (so peak memories do not mix) and is repeated;
the best time is kept. Printed: seconds, frames/s, peak extra resident memory of the child, and
the ratio against MDAnalysis's LAMMPSDUMP reader measured in the same run. The target for the
text dump is ≥ 6× MDAnalysis.

NetCDF: the binary trajectory's frames are written once more as ``ar_<N>x<M>.nc`` (AMBER
convention, float64, :class:`mdargy.io.netcdf.NetCDFTrajectoryWriter`, cached beside the others)
with a PDB topology for MDAnalysis. Memory-mapped readers "touch" the data by converting it to
native float64 arrays (what an analysis needs). Printed: NetCDF vs the binary reader in the
same mode, and vs MDAnalysis's ``NCDFReader`` (scipy, float32 frames copied into float64
arrays) on the same file. Target: ≥ 4,000 frames/s for 4,000 atoms memory-mapped. Results are
also written to ``benchmarks/out/bench_read.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_trajectory import make_trajectory  # noqa: E402

TARGET_VS_MDA = 6.0
TARGET_NETCDF_FRAMES_S = 4000.0


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _PeakRSS:
    """Highest resident memory of this process, sampled every 2 ms in a thread (the kernel's
    own VmHWM is inherited across fork and updated lazily, so it is not used)."""

    def __init__(self):
        import threading

        self.peak = _status_kb("VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _status_kb("VmRSS"))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _status_kb("VmRSS"))


def _child(fn, args, q):
    try:
        rss0 = _status_kb("VmRSS")
        sampler = _PeakRSS()
        c0 = _cpu()
        t0 = time.perf_counter()
        info = fn(*args)
        dt = time.perf_counter() - t0
        info["cpu_seconds"] = _cpu() - c0
        peak = sampler.stop()
        q.put(("ok", dt, (peak - rss0) / 1024.0, info))
    except BaseException as exc:  # report, do not hang the parent
        q.put(("error", repr(exc), 0, None))


def measure(fn, args, repeat: int):
    """Best wall time (s), its peak extra RSS (MB) and fn's info dict, each run in a fork."""
    ctx = mp.get_context("fork")
    best = None
    for _ in range(repeat):
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(fn, args, q))
        p.start()
        status, dt, mem, info = q.get()
        p.join()
        if status != "ok":
            raise RuntimeError(f"{fn.__name__} failed: {dt}")
        if best is None or dt < best[0]:
            best = (dt, mem, info)
    return best


# -- the readers (each returns a small summary to check they read the same numbers) ----------

def _summary(pos, vel):
    return {"n_frames": int(pos.shape[0]), "pos_sum": float(np.sum(pos[-1])),
            "vel_sum": float(np.sum(vel[-1])) if vel is not None else None,
            "pos_last_atom0": [float(x) for x in pos[-1, 0]]}


def read_native(path, engine, threads=1):
    from mdargy.io.lammpsdump import read_lammps_dump

    d = read_lammps_dump(path, engine=engine, threads=threads)
    return _summary(d.positions, d.velocities)


def read_load_trajectory(path):
    from mdargy.io.trajectory import load_trajectory

    t = load_trajectory(path, types="1=Ar", timestep_fs=2.0)
    return _summary(t.positions, t.velocities)


def read_mdanalysis(path):
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(path), format="LAMMPSDUMP", lammps_coordinate_convention="unwrapped")
        n = len(u.atoms)
        nf = len(u.trajectory)
        pos = np.empty((nf, n, 3))
        vel = np.empty((nf, n, 3))
        for i, ts in enumerate(u.trajectory):  # MDAnalysis sorts the atoms by id itself
            pos[i] = ts.positions
            vel[i] = ts.velocities
    return _summary(pos, vel)


def _touch(a):
    """A native float64 copy of a (memory-mapped) array in 32 MB blocks, as analyses read it."""
    out = np.empty(a.shape, dtype=np.float64)
    block = max(1, (32 << 20) // max(1, out[0].nbytes))
    for i in range(0, len(out), block):
        out[i:i + block] = a[i:i + block]
    return out


def read_binary(path, mmap):
    from mdargy.io.binary import read_binary_trajectory

    t = read_binary_trajectory(path, mmap=mmap)
    pos, vel = t.positions, t.velocities
    if mmap:  # touch every byte, as an analysis would: native float64 copies
        pos, vel = _touch(pos), _touch(vel)
    return _summary(pos, vel)


def read_netcdf(path, mmap):
    from mdargy.io.netcdf import read_netcdf_trajectory

    t = read_netcdf_trajectory(path, mmap=mmap)
    pos, vel = t.positions, t.velocities
    if mmap:  # big-endian views of the file: touch and convert, as an analysis would
        pos, vel = _touch(pos), _touch(vel)
    return _summary(pos, vel)


def read_load_netcdf(path):
    from mdargy.io.trajectory import load_trajectory

    t = load_trajectory(path)  # memory-mapped, with the loader's checks of every frame
    return _summary(_touch(t.positions), _touch(t.velocities))


def read_mdanalysis_ncdf(path, topology):
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(topology), str(path), format="NCDF")
        n = len(u.atoms)
        nf = len(u.trajectory)
        pos = np.empty((nf, n, 3))
        vel = np.empty((nf, n, 3))
        for i, ts in enumerate(u.trajectory):
            pos[i] = ts.positions
            vel[i] = ts.velocities
    return _summary(pos, vel)


def netcdf_copy(binary: Path) -> tuple[Path, Path]:
    """The binary trajectory's frames as NetCDF (+ PDB topology), written once and cached."""
    from mdargy.io.binary import read_binary_trajectory
    from mdargy.io.netcdf import NetCDFTrajectoryWriter, read_netcdf_header
    from mdargy.io.pdb import write_pdb_topology

    nc, pdb = binary.with_suffix(".nc"), binary.with_suffix(".pdb")
    t = read_binary_trajectory(binary)
    if nc.exists() and pdb.exists() and read_netcdf_header(nc).numrecs == t.n_frames:
        return nc, pdb
    print(f"writing {nc.name} from {binary.name} ...", flush=True)
    boxes = t.boxes_A
    with NetCDFTrajectoryWriter(nc, t.n_atoms, elements=t.elements, masses_amu=t.masses_amu,
                                dt_ps=t.dt_ps, box_A=boxes[0], overwrite=True,
                                timestep_ps=t.metadata.get("timestep_ps")) as w:
        for i in range(t.n_frames):
            w.append(int(t.steps[i]), t.positions[i], t.velocities[i], box_A=boxes[i])
    write_pdb_topology(pdb, t.elements, t.positions[0], boxes[0])
    return nc, pdb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--atoms", type=int, default=4000)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the fast readers")
    ap.add_argument("--mda-repeat", type=int, default=1, help="repeats of MDAnalysis")
    ap.add_argument("--skip-text", action="store_true",
                    help="only the NetCDF and binary readers (the ratios then refer to "
                    "MDAnalysis's NCDFReader)")
    a = ap.parse_args(argv)

    paths = make_trajectory(a.atoms, a.frames)
    dump, binary = paths["dump"], paths["binary"]
    nc, pdb = netcdf_copy(binary)
    size_mb = dump.stat().st_size / 1e6
    print(f"\nreading {dump.name}: {a.atoms} atoms × {a.frames} frames, {size_mb:.0f} MB text, "
          f"{binary.stat().st_size / 1e6:.0f} MB binary, {nc.stat().st_size / 1e6:.0f} MB "
          f"NetCDF; {os.cpu_count()} CPUs, one thread each")
    # warm the page cache, so every reader starts from memory, not disk
    for p in (dump, binary, nc):
        with open(p, "rb") as fh:
            while fh.read(4 << 20):
                pass
    import MDAnalysis
    import numpy

    import mdargy.io.binary  # noqa: F401  (imports are not part of the timings)
    import mdargy.io.netcdf  # noqa: F401
    import mdargy.io.trajectory  # noqa: F401
    from mdargy.io.lammpsdump import _n_threads, available_engines

    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    ncpu = _n_threads(None)

    runs = []
    if not a.skip_text:
        runs.append(("MDAnalysis LAMMPSDUMP", read_mdanalysis, (dump,), a.mda_repeat))
        for eng in available_engines():
            runs.append((f"mdargy text dump ({eng}, 1 thread)", read_native, (dump, eng, 1),
                         a.repeat))
            if ncpu > 1:
                runs.append((f"mdargy text dump ({eng}, {ncpu} threads)", read_native,
                             (dump, eng, ncpu), a.repeat))
        runs.append(("mdargy load_trajectory(dump)", read_load_trajectory, (dump,), a.repeat))
    runs.append(("mdargy binary, read", read_binary, (binary, False), a.repeat))
    runs.append(("mdargy binary, mmap + touch", read_binary, (binary, True), a.repeat))
    runs.append(("MDAnalysis NCDFReader", read_mdanalysis_ncdf, (nc, pdb), a.mda_repeat))
    runs.append(("mdargy NetCDF, read", read_netcdf, (nc, False), a.repeat))
    runs.append(("mdargy NetCDF, mmap + touch", read_netcdf, (nc, True), a.repeat))
    runs.append(("mdargy load_trajectory(nc)", read_load_netcdf, (nc,), a.repeat))
    results = {}
    for name, fn, args, rep in runs:
        dt, mem, info = measure(fn, args, rep)
        results[name] = {"seconds": dt, "cpu_seconds": info.pop("cpu_seconds"),
                         "frames_per_s": info["n_frames"] / dt,
                         "peak_extra_MB": mem, "summary": info}
        print(f"  measured {name}: {dt:.2f} s", flush=True)

    ref_name = "MDAnalysis NCDFReader" if a.skip_text else "MDAnalysis LAMMPSDUMP"
    ref = results[ref_name]
    print()
    print(f"{'reader':38s} {'wall s':>7s} {'CPU s':>7s} {'frames/s':>9s} {'peak MB':>8s} "
          f"{'vs ' + ref_name + ' (wall, CPU)':>26s}")
    for name, r in results.items():
        ratio = ref["seconds"] / r["seconds"]
        r["ratio_vs_mdanalysis"] = ratio
        r["cpu_ratio_vs_mdanalysis"] = ref["cpu_seconds"] / r["cpu_seconds"]
        print(f"{name:38s} {r['seconds']:7.2f} {r['cpu_seconds']:7.2f} "
              f"{r['frames_per_s']:9.0f} {r['peak_extra_MB']:8.0f} "
              f"{ratio:15.1f}× {r['cpu_ratio_vs_mdanalysis']:8.1f}×")
    out_arrays_mb = a.atoms * a.frames * 3 * 8 * 2 / 1e6
    print(f"(the float64 positions + velocities themselves take {out_arrays_mb:.0f} MB; CPU s "
          "is the child's user + system time: on a busy machine the CPU ratio is the fairer one "
          "for one-thread readers)")
    # the readers must agree: MDAnalysis keeps float32, the dump keeps %g (6 digits)
    for name, r in results.items():
        d = np.max(np.abs(np.subtract(r["summary"]["pos_last_atom0"],
                                      ref["summary"]["pos_last_atom0"])))
        assert r["summary"]["n_frames"] == ref["summary"]["n_frames"], name
        assert d < 1e-3, (name, d)
    for mode in ("read", "mmap + touch"):  # the same float64 numbers in both formats
        assert (results[f"mdargy NetCDF, {mode}"]["summary"]
                == results[f"mdargy binary, {mode}"]["summary"]), mode
    print()
    for label, pick in (() if a.skip_text else
                        (("one thread", lambda n: "1 thread" in n),
                         ("all threads", lambda n: "thread" in n))):
        best = max((r["ratio_vs_mdanalysis"], n) for n, r in results.items()
                   if n.startswith("mdargy text") and pick(n))
        verdict = "meets" if best[0] >= TARGET_VS_MDA else "MISSES"
        print(f"text dump, {label}: {best[1]} is {best[0]:.1f}× MDAnalysis "
              f"({verdict} the ≥ {TARGET_VS_MDA:g}× target)")
    peer = results["MDAnalysis NCDFReader"]
    for mode, other in (("read", "mdargy binary, read"),
                        ("mmap + touch", "mdargy binary, mmap + touch")):
        r = results[f"mdargy NetCDF, {mode}"]
        b = results[other]
        r["ratio_vs_binary"] = b["seconds"] / r["seconds"]
        r["ratio_vs_mdanalysis_ncdf"] = peer["seconds"] / r["seconds"]
        print(f"NetCDF, {mode}: {r['frames_per_s']:.0f} frames/s; {r['ratio_vs_binary']:.2f}× "
              f"the binary reader ({b['frames_per_s']:.0f} frames/s) [CPU "
              f"{b['cpu_seconds'] / r['cpu_seconds']:.2f}×], {r['ratio_vs_mdanalysis_ncdf']:.1f}× "
              f"MDAnalysis NCDFReader ({peer['frames_per_s']:.0f} frames/s) [CPU "
              f"{peer['cpu_seconds'] / r['cpu_seconds']:.1f}×]")
    # both NetCDF modes map the file and copy it out once: the better one is the reader's speed
    best = max((results[f"mdargy NetCDF, {m}"] for m in ("read", "mmap + touch")),
               key=lambda r: r["frames_per_s"])
    fps, cpu_fps = best["frames_per_s"], a.frames / best["cpu_seconds"]
    verdict = "meets" if fps >= TARGET_NETCDF_FRAMES_S else "MISSES"
    print(f"NetCDF memory-mapped: {fps:.0f} frames/s of {a.atoms} atoms wall, {cpu_fps:.0f} per "
          f"CPU-second ({verdict} the ≥ {TARGET_NETCDF_FRAMES_S:.0f} frames/s target in wall "
          "time)")
    out = HERE / "out" / "bench_read.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "n_atoms": a.atoms, "n_frames": a.frames, "dump_MB": size_mb,
        "versions": {"MDAnalysis": MDAnalysis.__version__, "numpy": numpy.__version__},
        "cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
