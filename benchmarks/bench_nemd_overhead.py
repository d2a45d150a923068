"""Cost of the NEMD bookkeeping: µs per atom-step of plain NVE against the NEMD production stage.

Same bar, same potential, same LAMMPS instance, same state (one process, one rank):

* ``cu7ps6``: the Cu7PS6 bar of the production campaign (P2_13 cell, 16 x 2 x 2 cells,
  3,584 atoms, 300 K, 1 fs) with the shipped MTP (``inputs/potentials/Cu7PS6.mtp``,
  ``pair_style mtp`` plugin); slabs of half a cell (32 bins), baths one cell wide;
* ``lj``: fcc LJ argon (8.5 Å cutoff) at 50 K, 32 x 4 x 4 cells (2,048 atoms), 5 fs.

Variants (each one run from the same equilibrated state, restored from a restart file, in
turn, ``--reps`` times; the best is kept, which filters out the time slices other processes take
on a shared machine):

``nve``                 ``fix nve`` only (no blow-up guard, no output): the reference;
``nve+guard``           plus the blow-up guard at the driver's interval for this potential;
``nvt+guard``           the driver's NVT equilibration stage (what the cost was compared with);
``+dyn-groups every N`` nve plus the two dynamic bath groups re-evaluated every N steps;
``+baths``              plus Langevin baths on them (``zero yes``), with and without the tally;
``+profile``            nve plus the ``bin/1d`` chunk profile (``fix ave/chunk`` every
                        ``sample_every_fs``);
``nemd before``         the Langevin production stage as the driver issued it before the bath
                        groups were updated less often (every step), with the guard;
``nemd now``            the commands the driver issues now
                        (:func:`mdargy.drivers.nemd.nemd_stage_commands`,
                        :func:`~mdargy.drivers.nemd.bath_commands`), with the guard.

The driver's read-back of thermo, tallies and profile once per block (``block_steps``, 10,000
steps in the production campaign) is timed on its own and spread over a block in the two
``nemd`` lines.

For each variant it prints µs/atom-step (CPU time of the process, the best run; the best wall
time beside it), the ratio to ``nve`` and the LAMMPS timing breakdown (Pair, Neigh, Comm,
Output, Modify, Other: wall ms per 1,000 steps, each the least over the runs). On a loaded
machine the CPU-time ratios still scatter by several per cent; ``--instructions`` also
counts the instructions per atom-step of the MD loop under valgrind (deterministic, blind to
cache misses). ``--membership`` counts how often a bath group updated every N steps disagrees
with one updated every step (the approximation made by updating the groups less often).

Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_nemd_overhead.py [--case cu7ps6 lj]
        [--steps 200] [--reps 3] [--group-every 1 10 100] [--membership]
        [--instructions [VARIANT ...]] [--instr-steps 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mdargy.drivers.common import (  # noqa: E402
    base_commands,
    guard_commands,
    guard_every,
    prepare_structure,
)
from mdargy.drivers.config import NEMDConfig  # noqa: E402
from mdargy.drivers.nemd import (  # noqa: E402
    bath_commands,
    bath_group_every,
    geometry,
    nemd_stage_commands,
)
from mdargy.lammps.runtime import create_lammps, run_commands  # noqa: E402
from mdargy.potentials.spec import PotentialSpec, lj_argon  # noqa: E402

SECTIONS = ("Pair", "Neigh", "Comm", "Output", "Modify", "Other")
#: variants whose instructions ``--instructions`` counts by default
INSTR_VARIANTS = ("nve", "nve+guard", "nvt+guard", "+dyn-groups every 1", "+dyn-groups every 10",
                  "+baths (tally yes)", "+profile", "nemd before", "nemd now")


def case_config(case: str, out: Path) -> NEMDConfig:
    """The bar of each case as an :class:`NEMDConfig` (only the NEMD-stage fields matter)."""
    if case == "cu7ps6":
        pot = PotentialSpec(kind="mtp", files=(str(ROOT / "inputs/potentials/Cu7PS6.mtp"),),
                            elements=("Cu", "P", "S"))
        return NEMDConfig(structure=str(ROOT / "inputs/structures/Cu7PS6_P213_derived.cif"),
                          potential=pot, output_dir=str(out), replicate=(16, 2, 2),
                          temperature_K=300.0, timestep_fs=1.0, seed=11, bins_per_cell=2,
                          bath_cells=1, delta_T_K=60.0, bath_damp_fs=500.0,
                          equilibration_ps=10.0, production_ps=100.0, block_ps=10.0,
                          sample_every_fs=10.0)
    if case == "lj":
        return NEMDConfig(structure=str(ROOT / "inputs/examples/Ar_fcc.cif"), potential=lj_argon(),
                          output_dir=str(out), replicate=(32, 4, 4), temperature_K=50.0,
                          timestep_fs=5.0, seed=11, bins_per_cell=1, bath_cells=2, delta_T_K=40.0,
                          bath_damp_fs=250.0, equilibration_ps=10.0, production_ps=100.0,
                          block_ps=10.0, sample_every_fs=50.0)
    raise SystemExit(f"unknown case {case!r}")


def before_stage_commands(config: NEMDConfig, xlo: float, geo: dict) -> list[str]:
    """The Langevin NEMD stage as the driver issued it before the overhead was reduced:
    bath groups re-evaluated every step, profile sampled every ``sample_every_fs``."""
    c0, c1 = (xlo + v for v in geo["cold_A"])
    h0, h1 = (xlo + v for v in geo["hot_A"])
    nrep = config.block_steps // config.sample_every_steps
    return [
        "fix nve all nve",
        f"region rcold block {c0:.10g} {c1:.10g} INF INF INF INF units box",
        f"region rhot block {h0:.10g} {h1:.10g} INF INF INF INF units box",
        f"compute slabs all chunk/atom bin/1d x lower {1.0 / config.n_bins:.12g} units reduced",
        f"fix prof all ave/chunk {config.sample_every_steps} {nrep} {config.block_steps} "
        "slabs temp",
        "group hot dynamic all region rhot every 1",
        "group cold dynamic all region rcold every 1",
    ]


def _regions(xlo, geo):
    c0, c1 = (xlo + v for v in geo["cold_A"])
    h0, h1 = (xlo + v for v in geo["hot_A"])
    return [f"region rcold block {c0:.10g} {c1:.10g} INF INF INF INF units box",
            f"region rhot block {h0:.10g} {h1:.10g} INF INF INF INF units box"]


def _groups(every):
    return [f"group hot dynamic all region rhot every {every}",
            f"group cold dynamic all region rcold every {every}"]


def _baths(config, tally="yes"):
    return [ln.replace("tally yes", f"tally {tally}") for ln in bath_commands(config, 0, True)]


def _profile(config):
    nrep = config.block_steps // config.sample_every_steps
    return [f"compute slabs all chunk/atom bin/1d x lower {1.0 / config.n_bins:.12g} units reduced",
            f"fix prof all ave/chunk {config.sample_every_steps} {nrep} {config.block_steps} "
            "slabs temp"]


def variants(config: NEMDConfig, xlo: float, geo: dict, group_every) -> dict:
    """name -> (commands after ``fix nve``, guard interval or 0, read back per block)."""
    g = guard_every(config.potential.kind)
    nve = ["fix nve all nve"]
    T, tdamp = config.temperature_K, config.tdamp_fs * 1e-3
    out = {"nve": (nve, 0, False), "nve+guard": (nve, g, False),
           "nvt+guard": ([f"fix eq all nvt temp {T:g} {T:g} {tdamp:g}"], g, False)}
    if g != 1:
        out["nve+guard every 1"] = (nve, 1, False)
    for n in group_every:
        out[f"+dyn-groups every {n}"] = (nve + _regions(xlo, geo) + _groups(n), 0, False)
    out["+baths (tally no)"] = (nve + _regions(xlo, geo) + _groups(1) + _baths(config, "no"),
                                0, False)
    out["+baths (tally yes)"] = (nve + _regions(xlo, geo) + _groups(1) + _baths(config), 0, False)
    out["+profile"] = (nve + _profile(config), 0, False)
    out["nemd before"] = (before_stage_commands(config, xlo, geo) + _baths(config), g, True)
    out["nemd now"] = (nemd_stage_commands(config, xlo, geo) + bath_commands(config, 0, True),
                       g, True)
    return out


def teardown(lines: list[str]) -> list[str]:
    """Commands that undo ``lines`` (fixes, then groups, computes and regions)."""
    fixes, groups, computes, regions = [], [], [], []
    for ln in lines:
        t = ln.split()
        if t[0] == "fix":
            fixes.append(f"unfix {t[1]}")
        elif t[0] == "group":
            groups.append(f"group {t[1]} delete")
        elif t[0] == "compute":
            computes.append(f"uncompute {t[1]}")
        elif t[0] == "region":
            regions.append(f"region {t[1]} delete")
    return fixes[::-1] + groups[::-1] + computes[::-1] + regions[::-1]


def parse_breakdown(text: str) -> dict:
    """Loop time and the Pair/Neigh/... seconds (average over ranks) of the last run in ``text``."""
    i = text.rfind("Loop time of ")
    if i < 0:
        return {}
    out = {"loop_s": float(text[i:].split()[3])}
    for line in text[i:].splitlines():
        f = [s.strip() for s in line.split("|")]
        if len(f) >= 3 and f[0] in SECTIONS:
            try:
                out[f[0]] = float(f[2])
            except ValueError:
                pass
    return out


def readback(lmp, config) -> float:
    """What the driver reads after each block: thermo, the bath tallies and the profile (s)."""
    t0 = time.perf_counter()
    lmp.last_thermo()
    for fid in ("hot", "cold"):
        try:
            lmp.extract_fix(fid, 0, 0)
        except Exception:
            pass
    [lmp.extract_fix("prof", 0, 2, i, 2) for i in range(config.n_bins)]
    [lmp.extract_fix("prof", 0, 2, i, 1) for i in range(config.n_bins)]
    return time.perf_counter() - t0


def prepare(case: str, tmp: Path, equilibrate: bool = True):
    """Config, structure and (``equilibrate``) the common starting state ``start.restart``."""
    config = case_config(case, tmp)
    prep = prepare_structure(config, tmp, write=equilibrate)
    return config, prep, tmp / "start.restart"


def equilibrate(lmp, config, prep, restart: Path) -> None:
    """200 NVT steps from Maxwell-Boltzmann velocities; the state every variant starts from."""
    T = config.temperature_K
    run_commands(lmp, base_commands(config, prep["data_file"], prep["type_elements"]))
    run_commands(lmp, ["unfix mdargy_guard",
                       f"velocity all create {T:g} {config.seed} mom yes rot no dist gaussian "
                       "loop geom",
                       f"fix eq all nvt temp {T:g} {T:g} {config.tdamp_fs * 1e-3:g}",
                       "run 200 post no", "unfix eq",
                       # step 0: the profile's and groups' intervals start at once (LAMMPS
                       # begins an ave/chunk window only on a multiple of its interval)
                       "reset_timestep 0", f"write_restart {restart}"])


def open_variant(lmp, config, prep, restart: Path, group_every, name: str | None = None,
                 run0: bool = True):
    """Restore the starting state and set up variant ``name`` (none: only the state).

    Returns (variants, xlo, geometry)."""
    run_commands(lmp, ["clear"])
    run_commands(lmp, base_commands(config, None, prep["type_elements"],
                                    restart_file=str(restart)))
    run_commands(lmp, "unfix mdargy_guard")
    lo, hi = lmp.extract_box()[:2]
    geo = geometry(config, np.diag([hi[k] - lo[k] for k in range(3)]))
    vs = variants(config, float(lo[0]), geo, group_every)
    if name is not None:
        lines, gev, _ = vs[name]
        if gev:
            run_commands(lmp, guard_commands(config.runaway_T_K, gev))
        run_commands(lmp, lines + (["run 0 post no"] if run0 else []))
    return vs, float(lo[0]), geo


def bench_case(case: str, steps: int, reps: int, group_every, membership: bool,
               instr_steps: int = 20, instr_variants=()) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_nemd_{case}_"))
    config, prep, restart = prepare(case, tmp)
    n = prep["n_atoms"]
    log = tmp / "log.lammps"
    lmp = create_lammps(log=log)
    equilibrate(lmp, config, prep, restart)
    rb = min(readback_once(lmp, config) for _ in range(3))
    vs, xlo, geo = open_variant(lmp, config, prep, restart, group_every)
    best: dict[str, dict] = {}
    print(f"\n== {case}: {n} atoms, {steps} steps per run, best of {reps}; "
          f"read-back {1e3 * rb:.2f} ms per block of {config.block_steps} steps", flush=True)
    for rep in range(reps):
        for name, (lines, gev, per_block) in vs.items():
            # the same starting state for every variant: velocities and positions restored
            open_variant(lmp, config, prep, restart, group_every, name)
            off = log.stat().st_size
            c0, w0 = time.process_time(), time.perf_counter()
            lmp.command(f"run {steps} pre no post yes")
            extra = rb * steps / config.block_steps if per_block else 0.0
            cpu, wall = time.process_time() - c0 + extra, time.perf_counter() - w0 + extra
            with open(log) as fh:
                fh.seek(off)
                bd = parse_breakdown(fh.read())
            r = {"cpu_us": 1e6 * cpu / (n * steps), "wall_us": 1e6 * wall / (n * steps),
                 "breakdown": bd, "guard_every": gev}
            b = best.setdefault(name, r)
            for k in ("cpu_us", "wall_us"):
                b[k] = min(b[k], r[k])
            # each section: its least time over the runs (the breakdown is wall time)
            b["breakdown"] = {s: min(b["breakdown"].get(s, np.inf), bd.get(s, np.inf))
                              for s in SECTIONS}
    ref = best["nve"]
    print(f"{'variant':<27}{'us/atom-step':>13}{'(wall)':>8}{'ratio':>7}  ms/1000 steps: " +
          " ".join(f"{s:>6}" for s in SECTIONS))
    for name, r in best.items():
        bd = r["breakdown"]
        print(f"{name:<27}{r['cpu_us']:>13.3f}{r['wall_us']:>8.3f}"
              f"{r['cpu_us'] / ref['cpu_us']:>7.3f}                 " +
              " ".join(f"{1e6 * bd.get(s, np.nan) / steps:>6.0f}" for s in SECTIONS))
    print(f"(guard every {guard_every(config.potential.kind)} steps in 'nve+guard', 'nvt+guard' "
          f"and the 'nemd' lines; bath groups every 1 step in 'nemd before', every "
          f"{bath_group_every(config)} in 'nemd now')", flush=True)
    if membership:
        membership_error(lmp, config, prep, restart, group_every)
    if instr_variants:
        names = [v for v in vs if v in instr_variants or "all" in instr_variants]
        ir = instructions(case, tmp, names, instr_steps, group_every)
        print(f"instructions per atom-step in the MD loop ({instr_steps} steps, callgrind):")
        for name in names:
            best[name]["instr"] = ir[name]
            print(f"  {name:<27}{ir[name]:>8.0f}{ir[name] / ir['nve']:>7.3f}")
    lmp.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return best


def instructions(case: str, tmp: Path, names, steps: int, group_every) -> dict:
    """Instructions per atom-step inside ``Verlet::run`` (the MD loop: forces, fixes,
    communication, neighbour lists; not the setup) of each variant, counted by valgrind's
    callgrind in one separate process that runs every variant from the same starting state
    (a profile part is dumped after each ``Verlet::run``). Immune to the machine's load, blind
    to cache misses."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    cg = tmp / "callgrind"
    cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=*Verlet::run*",
           "--dump-after=LAMMPS_NS::Verlet::run(int)", f"--callgrind-out-file={cg}",
           sys.executable, __file__, "--worker", case, "--tmp", str(tmp), "--steps", str(steps),
           "--group-every", *map(str, group_every), "--variant", *names]
    subprocess.run(cmd, check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    parts = sorted(tmp.glob("callgrind.*"), key=lambda f: int(f.suffix[1:]))
    totals = [next(int(ln.split()[1]) for ln in f.read_text().splitlines()
                   if ln.startswith(("totals:", "summary:"))) for f in parts]
    if len(totals) != len(names):
        raise SystemExit(f"callgrind wrote {len(totals)} parts for {len(names)} variants")
    n_atoms = int((tmp / "n_atoms").read_text())
    return {name: t / (n_atoms * steps) for name, t in zip(names, totals)}


def worker(case: str, names, tmp: Path, steps: int, group_every) -> None:
    """Run each variant once (under valgrind: exactly one ``Verlet::run`` per variant)."""
    config, prep, restart = prepare(case, tmp, equilibrate=False)
    lmp = create_lammps()
    for name in names:
        open_variant(lmp, config, prep, restart, group_every, name, run0=False)
        lmp.command(f"run {steps} post no")
    (tmp / "n_atoms").write_text(str(prep["n_atoms"]))
    lmp.close()


def readback_once(lmp, config) -> float:
    """Time :func:`readback` once, on a profile with a short block."""
    lines = [_profile(config)[0], "fix prof all ave/chunk 1 10 10 slabs temp"]
    run_commands(lmp, lines + ["run 10 post no"])
    t = readback(lmp, config)
    run_commands(lmp, teardown(lines))
    return t


def membership_error(lmp, config, prep, restart, group_every, steps: int = 400) -> None:
    """Bath membership with groups updated every N steps against every step, in the NEMD stage.

    Prints, for each N, the fraction of bath atom-steps (hot + cold) assigned differently:
    outside the slab but still in the group, or inside but not yet in it. Positions are wrapped
    into the cell (the membership a bath would have with exact bookkeeping).
    """
    vs, xlo, geo = open_variant(lmp, config, prep, restart, group_every, "nemd before")
    L = float(geo["length_A"])
    spans = [tuple(xlo + v for v in geo[k]) for k in ("cold_A", "hot_A")]

    n_atoms = prep["n_atoms"]

    def inside():  # in atom-id order (LAMMPS sorts its local atoms now and then)
        ids = np.array(lmp.numpy.extract_atom("id")[:n_atoms])
        x = np.empty(n_atoms)
        x[ids - 1] = lmp.numpy.extract_atom("x")[:n_atoms, 0]
        x = xlo + np.mod(x - xlo, L)
        return [(x >= a) & (x < b) for a, b in spans]

    hist = [inside()]
    for _ in range(steps):
        lmp.command("run 1 pre no post no")
        hist.append(inside())
    print(f"bath membership over {steps} steps ({config.timestep_fs:g} fs), groups every N "
          "steps vs every step:")
    for n in group_every:
        wrong = tot = 0
        for t, now in enumerate(hist):
            then = hist[(t // n) * n]
            for a, b in zip(now, then):
                wrong += int(np.sum(a != b))
                tot += int(np.sum(a))
        print(f"  N = {n:>4}: {100 * wrong / tot:.3f} % of bath atom-steps assigned differently")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", nargs="+", default=["cu7ps6", "lj"], choices=["cu7ps6", "lj"])
    ap.add_argument("--steps", type=int, default=200, help="MD steps per timed run")
    ap.add_argument("--reps", type=int, default=3, help="timed runs per variant (best kept)")
    ap.add_argument("--group-every", type=int, nargs="+", default=[1, 10, 100],
                    help="intervals of the dynamic-group variants (steps)")
    ap.add_argument("--membership", action="store_true",
                    help="also count bath-membership differences for --group-every intervals")
    ap.add_argument("--instructions", nargs="*", metavar="VARIANT",
                    help="also count instructions per atom-step of these variants (default: "
                    f"{', '.join(INSTR_VARIANTS)}; 'all': every one) under valgrind; slow: "
                    "several minutes per variant for the Cu7PS6 bar on a loaded core")
    ap.add_argument("--instr-steps", type=int, default=20,
                    help="MD steps per variant counted under valgrind (a multiple of 10)")
    ap.add_argument("--worker", choices=["cu7ps6", "lj"], help=argparse.SUPPRESS)
    ap.add_argument("--variant", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.worker, a.variant, Path(a.tmp), a.steps, a.group_every)
        return
    for case in a.case:
        iv = () if a.instructions is None else (a.instructions or INSTR_VARIANTS)
        if iv and "nve" not in iv:
            iv = ("nve", *iv)
        bench_case(case, a.steps, a.reps, a.group_every, a.membership, a.instr_steps, iv)


if __name__ == "__main__":
    main()
