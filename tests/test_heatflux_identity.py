"""Proof that the heat current the EMD driver records is the true one.

On an isolated cluster (free boundaries, no periodic images) the energy-weighted position
D(t) = Σ_i r_i e_i (e_i = kinetic + potential energy of atom i) obeys dD/dt = J V exactly, where
J V = Σ_i e_i v_i − Σ_i S_i·v_i is the current LAMMPS's ``compute heat/flux`` returns with
the centroid per-atom virial S_i (Fan et al., Phys. Rev. B 92, 094301 (2015); Surblys et al.,
Phys. Rev. E 99, 051301(R) (2019)). We integrate NVE with a small step, take dD/dt by a
fourth-order central difference of the per-atom energies along the trajectory, and compare.
Velocity Verlet's trajectory deviates from the exact flow by O(dt²), so the agreement improves
with the step; at 0.02 fs (MTP) or 0.1 fs (LJ) it is better than 1e-5 relative.

The same commands as the driver (:func:`mdargy.drivers.heatflux.compute_commands`) are used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mdargy.potentials.spec import PotentialSpec, lj_argon

ROOT = Path(__file__).resolve().parent.parent
MTP = ROOT / "inputs" / "potentials" / "Cu7PS6.mtp"
P213 = ROOT / "inputs" / "structures" / "Cu7PS6_P213_derived.cif"


def cluster(atoms, radius_A, reps=(1, 1, 1), box_A=80.0):
    """Atoms within ``radius_A`` of the centre of ``atoms.repeat(reps)``, in a large
    non-periodic box."""
    atoms = atoms.repeat(reps)
    c = atoms.get_cell().sum(axis=0) / 2
    cl = atoms[np.linalg.norm(atoms.positions - c, axis=1) < radius_A]
    cl.set_cell([box_A] * 3)
    cl.set_pbc(False)
    cl.positions += box_A / 2 - cl.positions.mean(axis=0)
    return cl


def trajectory(tmp, cl, pot, tel, T_K, dt_fs, n_steps, seed=4711):
    """Per-step positions (Å), per-atom energies (eV) and heat/flux output (eV Å/ps)."""
    from lammps import LMP_STYLE_ATOM, LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY, LMP_TYPE_VECTOR

    from mdargy.drivers.heatflux import compute_commands
    from mdargy.lammps.runtime import create_lammps, get_comm, run_commands
    from mdargy.structures.load import write_lammps_data

    write_lammps_data(tmp / "c.data", cl, tel, [pot.mass(e) for e in tel])
    lmp = create_lammps(get_comm(None), log=None)
    n = len(cl)
    try:
        run_commands(lmp, ["units metal", "atom_style atomic", "boundary f f f",
                           f"read_data {tmp / 'c.data'}"] + pot.lammps_lines(tel) + [
            "neighbor 2.0 bin", f"timestep {dt_fs * 1e-3!r}",
            f"velocity all create {T_K} {seed} mom yes rot yes dist gaussian",
            "fix nve all nve"] + compute_commands(tel) + [
            "fix e all store/state 1 x y z c_mdargy_hf_ke c_mdargy_hf_pe",
            "fix j all ave/time 1 1 1 " + " ".join(f"c_mdargy_hf_flux[{i}]" for i in range(1, 7)),
            "thermo 0", "run 0 post no"])
        X, E, J = np.empty((n_steps + 1, n, 3)), np.empty((n_steps + 1, n)), np.empty((n_steps + 1, 6))
        for k in range(n_steps + 1):
            if k:
                lmp.command("run 1 pre no post no")
            order = np.argsort(np.array(lmp.numpy.extract_atom("id")[:n]))
            st = np.array(lmp.numpy.extract_fix("e", LMP_STYLE_ATOM, LMP_TYPE_ARRAY))[:n][order]
            X[k], E[k] = st[:, :3], st[:, 3] + st[:, 4]
            J[k] = [lmp.extract_fix("j", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR, i) for i in range(6)]
    finally:
        lmp.close()
    return X, E, J


def identity_error(X, E, J, dt_ps):
    """max |dD/dt − J| / max |J| with D = Σ r_i e_i (fourth-order central difference)."""
    D = np.einsum("tia,ti->ta", X, E)
    dD = (-D[4:] + 8 * D[3:-1] - 8 * D[1:-3] + D[:-4]) / (12 * dt_ps)
    Jm = J[2:-2]
    return float(np.abs(dD - Jm).max() / np.abs(Jm).max())


@pytest.fixture(scope="module")
def cups_cluster():
    from mdargy.structures.load import read_structure

    cl = cluster(read_structure(P213), 5.5)
    assert sorted(set(cl.get_chemical_symbols())) == ["Cu", "P", "S"]
    return cl


def test_mtp_heat_current_is_the_time_derivative_of_sum_r_e(tmp_path, cups_cluster):
    pot = PotentialSpec(kind="mtp", files=(str(MTP),), elements=("Cu", "P", "S"))
    X, E, J = trajectory(tmp_path, cups_cluster, pot, ["Cu", "P", "S"], 600.0, 0.02, 20)
    err = identity_error(X, E, J[:, :3], 0.02e-3)
    assert err < 1e-5, err
    # both parts matter: the convective part alone misses by order 100 %, and the virial part
    # is as large as the convective one
    assert identity_error(X, E, J[:, 3:], 0.02e-3) > 0.5
    assert np.abs(J[:, :3] - J[:, 3:]).max() > 0.3 * np.abs(J[:, 3:]).max()
    # the agreement is convergence in the step (Verlet: O(dt²)), not a coincidence
    X2, E2, J2 = trajectory(tmp_path, cups_cluster, pot, ["Cu", "P", "S"], 600.0, 0.08, 20)
    err2 = identity_error(X2, E2, J2[:, :3], 0.08e-3)
    assert 8 * err < err2 < 1e-3


def test_lj_control(tmp_path):
    from ase.build import bulk

    cl = cluster(bulk("Ar", "fcc", a=5.26, cubic=True), 6.0, (3, 3, 3))
    X, E, J = trajectory(tmp_path, cl, lj_argon(), ["Ar"], 40.0, 0.1, 20)
    assert identity_error(X, E, J[:, :3], 0.1e-3) < 1e-5


def test_eam_pairwise_split_fails_the_identity_and_is_refused(tmp_path):
    """LAMMPS accepts eam in centroid/stress/atom with the pairwise split of its forces; the
    identity then fails by order 100 % on a Cu cluster (the F'(ρ_i) − F'(ρ_j) terms are
    missing), which is why the driver refuses eam for the heat current."""
    from ase.build import bulk

    from mdargy.drivers.heatflux import check_centroid_support
    from mdargy.errors import MissingCapabilityError

    cl = cluster(bulk("Cu", "fcc", a=3.615, cubic=True), 5.0, (3, 3, 3))
    pot = PotentialSpec(kind="native", style="eam", files=("lammps:Cu_u3.eam",),
                        coeff_template="* * {files}")
    X, E, J = trajectory(tmp_path, cl, pot, ["Cu"], 600.0, 0.05, 20)
    assert identity_error(X, E, J[:, :3], 0.05e-3) > 0.1
    with pytest.raises(MissingCapabilityError, match="pair style 'eam'"):
        check_centroid_support(None, "eam")
    with pytest.raises(MissingCapabilityError, match="pair style 'eam/alloy'"):
        check_centroid_support(None, "eam/alloy")
