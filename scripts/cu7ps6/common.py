"""Shared helpers of the Cu7PS6 pipeline scripts: data sets, errors, MTP calculators, MD.

Data sets are extended-XYZ files whose frames carry the labeler's energy (eV), forces (eV/Å)
and stress (eV/Å³, ASE Voigt order) as single-point results, plus ``info`` keys ``phase``,
``T_K``, ``source``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from mdargy.constants import EV_A3_TO_GPA  # noqa: F401  (re-exported for the scripts)
from mdargy.lammps.runtime import self_comm  # noqa: F401  (re-exported for the scripts)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing mdargy
    sys.path.insert(0, str(ROOT))

#: Species order of the potential: MTP species 0, 1, 2 = Cu, P, S (atomic numbers).
SPECIES = ("Cu", "P", "S")
SPECIES_Z = (29, 15, 16)


def repo_path(path) -> str:
    """``path`` relative to the repository when it lies inside it (records then read the same
    on every machine), else as given."""
    p = Path(path)
    full = p.resolve() if not p.is_absolute() else p
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(path)


def settings_record(args) -> dict:
    """An argparse namespace as strings, paths relative to the repository (:func:`repo_path`)."""
    return {k: repo_path(v) if isinstance(v, Path) else str(v) for k, v in vars(args).items()}


def write_json(path, obj) -> None:
    from mdargy.io.atomic import atomic_write_json

    atomic_write_json(path, obj)


def read_json(path, default=None):
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else default


def label(atoms, calc, **info):
    """Copy of ``atoms`` with the labeler's energy, forces and stress stored as results."""
    from ase.calculators.singlepoint import SinglePointCalculator

    at = atoms.copy()
    at.calc = calc
    e = float(at.get_potential_energy())
    f = np.array(at.get_forces())
    try:
        s = np.array(at.get_stress(voigt=True))
    except Exception:  # a labeler without stress
        s = None
    out = atoms.copy()
    out.info.update(info)
    out.calc = SinglePointCalculator(out, energy=e, forces=f, stress=s)
    return out


def append_frames(path, frames) -> None:
    """Append labelled frames to an extxyz file (a crash loses at most the frame being written)."""
    from ase.io import write

    with open(path, "a") as fh:
        for at in frames:
            write(fh, at, format="extxyz")
            fh.flush()
            os.fsync(fh.fileno())


def read_frames(path) -> list:
    from ase.io import read

    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return []
    return read(p, index=":", format="extxyz")


def mtp_calculator(mtp_path):
    """motep's ASE calculator for a trained ``.mtp`` (species order :data:`SPECIES`)."""
    from motep.calculator import MTP
    from motep.io.mlip.mtp import read_mtp

    data = read_mtp(str(mtp_path))
    data.species = list(SPECIES_Z)
    return MTP(data, engine="cext")




def mpirun_prefix(ranks: int) -> list[str]:
    """``[mpirun, -np, N]`` for ``ranks`` > 1 (the venv's mpirun if there is one), else ``[]``."""
    if ranks <= 1:
        return []
    mpirun = Path(sys.executable).with_name("mpirun")
    return [str(mpirun) if mpirun.exists() else "mpirun", "-np", str(int(ranks))]


def lammps_efs(atoms, mtp_path):
    """Energy (eV), forces (eV/Å) and ASE stress (eV/Å³, Voigt) of ``atoms`` with the MTP in
    LAMMPS (mdargy's ``pair_style mtp``; ~100× faster than motep's calculator, any cell shape:
    :func:`mdargy.potentials.mtp.evaluate.evaluate_atoms`)."""
    from ase.stress import full_3x3_to_voigt_6_stress

    from mdargy.potentials.mtp.evaluate import evaluate_atoms

    r = evaluate_atoms(mtp_path, atoms, SPECIES, comm=self_comm())
    return r.energy_eV, r.forces_eV_A, full_3x3_to_voigt_6_stress(r.stress_eV_A3)


def errors(frames, calc) -> dict:
    """RMSE/MAE of energies (meV/atom), forces (eV/Å) and stresses (GPa) of ``calc`` against
    the labels stored in ``frames``; also the per-frame arrays for parity plots.

    ``calc`` is an ASE calculator, or the path of a ``.mtp`` file (evaluated in LAMMPS)."""
    e_ref, e_pred, f_ref, f_pred, s_ref, s_pred = [], [], [], [], [], []
    for at in frames:
        n = len(at)
        e_ref.append(at.get_potential_energy() / n)
        f_ref.append(at.get_forces().ravel())
        sr = at.calc.results.get("stress")
        if isinstance(calc, (str, Path)):
            e, f, s = lammps_efs(at, calc)
        else:
            b = at.copy()
            b.calc = calc
            e, f = b.get_potential_energy(), b.get_forces()
            s = b.get_stress(voigt=True) if sr is not None else None
        e_pred.append(e / n)
        f_pred.append(np.asarray(f).ravel())
        if sr is not None:
            s_ref.append(np.asarray(sr) * EV_A3_TO_GPA)
            s_pred.append(np.asarray(s) * EV_A3_TO_GPA)
    e_ref, e_pred = np.array(e_ref), np.array(e_pred)
    f_ref, f_pred = np.concatenate(f_ref), np.concatenate(f_pred)
    out = {
        "n_configurations": len(frames),
        "energy_rmse_meV_atom": float(np.sqrt(np.mean((e_pred - e_ref) ** 2)) * 1e3),
        "energy_mae_meV_atom": float(np.mean(np.abs(e_pred - e_ref)) * 1e3),
        "force_rmse_eV_A": float(np.sqrt(np.mean((f_pred - f_ref) ** 2))),
        "force_mae_eV_A": float(np.mean(np.abs(f_pred - f_ref))),
        "parity": {"energy_eV_atom": [e_ref.tolist(), e_pred.tolist()],
                   "force_eV_A": [f_ref.tolist(), f_pred.tolist()]},
    }
    if s_ref:
        s_ref, s_pred = np.concatenate(s_ref), np.concatenate(s_pred)
        out["stress_rmse_GPa"] = float(np.sqrt(np.mean((s_pred - s_ref) ** 2)))
        out["parity"]["stress_GPa"] = [s_ref.tolist(), s_pred.tolist()]
    return out


def langevin(atoms, calc, T_K, seed, dt_fs=2.0, friction=0.02):
    """An ASE Langevin integrator on a copy of ``atoms`` with velocities at ``T_K``."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    at = atoms.copy()
    at.calc = calc
    if not at.has("momenta") or not np.any(at.get_momenta()):
        MaxwellBoltzmannDistribution(at, temperature_K=T_K, rng=np.random.default_rng(seed))
        Stationary(at)
    dyn = Langevin(at, dt_fs * units.fs, temperature_K=T_K, friction=friction,
                   rng=np.random.default_rng(seed + 7919))
    return at, dyn


def build_cell(phase, cells, seed, strain=0.0, rng=None):
    """A Cu7PS6 cell of ``phase`` (f43m/p213) repeated ``cells``, optionally strained.

    The P2_13 cell is the shipped ``inputs/structures/Cu7PS6_P213_derived.cif`` unless the
    environment variable ``CU7PS6_P213_CIF`` names another file (``run_all.sh`` sets it to the
    one it derived).
    """
    from mdargy.structures.builders import build

    at = build(phase, cells, seed=seed, p213_file=os.environ.get("CU7PS6_P213_CIF") or None)
    if strain:
        rng = rng or np.random.default_rng(seed)
        eps = rng.uniform(-strain, strain, (3, 3))
        eps = 0.5 * (eps + eps.T)
        at.set_cell(at.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return at


def lammps_md(atoms, mtp_path, T_K, ps, dt_fs=1.0, seed=1, every=100, damp_ps=0.1,
              min_dist_A=1.3):
    """MTP molecular dynamics in LAMMPS (mdargy's ``pair_style mtp``), serial.

    Langevin at ``T_K`` (damping ``damp_ps``) with velocity Verlet. Snapshots every ``every``
    steps, as ASE atoms with
    ``velocities`` (Å/fs through ASE momenta) and ``info`` ``t_ps``, ``pe_eV``, ``T_inst_K``.
    A run stops early, flagged, when two atoms come closer than ``min_dist_A`` or the energy
    stops being finite.

    Returns
    -------
    frames : list of ase.Atoms
    completed : bool
    """
    import tempfile

    from ase.neighborlist import neighbor_list

    from mdargy.io.trajectory import mass_of
    from mdargy.lammps.runtime import create_lammps, run_commands
    from mdargy.structures.load import write_lammps_data

    nsteps = int(round(ps * 1000.0 / dt_fs))
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.data"
        write_lammps_data(data, atoms, list(SPECIES), [mass_of(s) for s in SPECIES])
        lmp = create_lammps(self_comm())
        try:
            run_commands(lmp, f"""
units metal
atom_style atomic
boundary p p p
read_data {data}
pair_style mtp {Path(mtp_path).resolve()}
pair_coeff * * {' '.join(SPECIES)}
neighbor 1.0 bin
timestep {dt_fs / 1000.0}
velocity all create {T_K} {seed} mom yes rot no dist gaussian
fix integ all nve
fix bath all langevin {T_K} {T_K} {damp_ps} {seed + 17} zero yes
thermo_style custom step temp pe
thermo {every}
run 0
""")
            done = 0
            while done < nsteps:
                n = min(every, nsteps - done)
                try:
                    lmp.command(f"run {n} pre no post no")
                except Exception:  # e.g. "Lost atoms": the run blew up
                    return frames, False
                done += n
                snap = _snapshot(lmp, atoms)
                snap.info.update(t_ps=done * dt_fs / 1000.0, pe_eV=float(lmp.get_thermo("pe")),
                                 T_inst_K=float(lmp.get_thermo("temp")), T_K=T_K)
                frames.append(snap)
                if not np.isfinite(snap.info["pe_eV"]) or len(neighbor_list("d", snap, min_dist_A)):
                    return frames, False
        finally:
            lmp.close()
    return frames, True


def _snapshot(lmp, template):
    """The current LAMMPS state as a copy of ``template`` (same atom order, by atom id)."""
    from ase import units

    n = len(template)
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3).copy()  # ordered by id
    v = np.ctypeslib.as_array(lmp.gather_atoms("v", 1, 3)).reshape(n, 3).copy()  # Å/ps
    box = lmp.extract_box()
    lo, hi, xy, yz, xz = box[0], box[1], box[2], box[3], box[4]
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    at = template.copy()
    at.calc = None
    at.set_cell(cell)
    at.positions = x - np.asarray(lo)
    at.set_velocities(v / 1000.0 / units.fs)  # Å/ps -> ASE velocity units
    return at
