"""Lattice dynamics from MD: known answers on LJ argon with real LAMMPS runs, and bad input.

* TDEP fc2 of fcc LJ argon fitted at 1 K reproduces phonopy's finite-displacement fc2 of the
  same potential (frequencies within 1 %); acoustic sum rule at Γ; DOS integrates to 3N.
* kappa_c is a small share (< 5 %) of kappa_p for this simple crystal at 20 K; classical heat
  capacities give the quantum answer at high T.
* Bad input: cutoffs too long, underdetermined fit, unmappable atoms, a diffusing (liquid) run.
"""

from __future__ import annotations

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.potentials.spec import PotentialSpec

EXAMPLES = "inputs/examples"
LJ = {"kind": "lj", "cutoff_A": 7.0, "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}},
      "masses_amu": {"Ar": 39.948}}


def _emd(path, T, steps=2000, eq=1000, seed=11, dt_fs=5.0):
    from mdargy.drivers.config import EMDConfig
    from mdargy.drivers.emd import run_emd

    cfg = EMDConfig.from_dict(dict(
        structure=f"{EXAMPLES}/Ar_fcc.cif", replicate=[3, 3, 3], output_dir=str(path),
        temperature_K=T, timestep_fs=dt_fs, seed=seed, equilibration_ps=eq * dt_fs / 1000,
        production_ensemble="nvt", production_ps=steps * dt_fs / 1000, dump_every_fs=50 * dt_fs,
        thermo_every_fs=50 * dt_fs, checkpoint_every_ps=100000 * dt_fs / 1000, text_dump=False,
        potential=LJ))
    run_emd(cfg, progress=False)
    return path


@pytest.fixture(scope="module")
def argon_1K(tmp_path_factory):
    from mdargy.lattice.fcfit import fit_force_constants
    from mdargy.lattice.snapshots import snapshots_from_run

    run = _emd(tmp_path_factory.mktemp("ar1K") / "run", 1.0)
    snaps = snapshots_from_run(run, n_snapshots=8)
    out = tmp_path_factory.mktemp("ar1K_fc")
    fit = fit_force_constants(snaps, cutoffs_A={2: 7.0, 3: 4.0}, cv_splits=4, output_dir=out)
    return snaps, fit, out


@pytest.fixture(scope="module")
def argon_20K(tmp_path_factory):
    from mdargy.lattice.pipeline import lattice_from_run

    run = _emd(tmp_path_factory.mktemp("ar20K") / "run", 20.0, seed=7)
    out = tmp_path_factory.mktemp("ar20K_lat")
    res = lattice_from_run(run, out, n_snapshots=10, cutoffs_A=[7.0, 4.0], cv_splits=0,
                           mesh=8, coarse_mesh=6, dos_mesh=8)
    return run, out, res


def test_forces_match_the_mtp_evaluator():
    """The general LAMMPS force helper agrees with the MTP evaluator, for several configurations
    in one instance (atoms re-created each time)."""
    from mdargy.lattice.forces import LammpsForces
    from mdargy.potentials.mtp.evaluate import evaluate_atoms
    from mdargy.structures.load import read_structure

    uc = read_structure("inputs/structures/Cu7PS6_P213_derived.cif")
    pot = PotentialSpec(kind="mtp", files=("inputs/potentials/Cu7PS6.mtp",),
                        elements=("Cu", "P", "S"))
    rng = np.random.default_rng(3)
    with LammpsForces(pot, uc) as ff:
        for _ in range(2):
            a = uc.copy()
            a.positions += rng.normal(0, 0.05, a.positions.shape)
            ref = evaluate_atoms("inputs/potentials/Cu7PS6.mtp", a, ["Cu", "P", "S"])
            np.testing.assert_allclose(ff.forces(a.positions), ref.forces_eV_A, atol=1e-8)


def test_tdep_fc2_at_1K_matches_finite_displacements(argon_1K):
    from mdargy.lattice.phonons import compute_phonons, finite_displacement_fc2, read_fc2

    snaps, fit, out = argon_1K
    r = fit.result
    assert r.r2 > 0.99 and r.rmse_eV_A < 0.05 * r.force_rms_eV_A
    assert np.isfinite(r.cv_rmse_eV_A) and r.cv_rmse_eV_A < 0.1 * r.force_rms_eV_A
    ref = snaps.reference
    tdep = compute_phonons(ref.unitcell, ref.reps, read_fc2(out / "fc2.hdf5"), 1.0, mesh=8)
    fd = compute_phonons(ref.unitcell, ref.reps,
                         finite_displacement_fc2(ref.unitcell, ref.reps, PotentialSpec(**LJ)),
                         mesh=8)
    a, b = tdep.band_freq_THz, fd.band_freq_THz
    ok = b > 0.2  # away from the acoustic zero at Γ
    assert np.max(np.abs(a[ok] - b[ok]) / b[ok]) < 0.01
    # acoustic sum rule and the DOS normalisation (1 atom per primitive cell: 3 branches)
    assert tdep.n_atoms_primitive == 1
    assert max(abs(g) for g in tdep.gamma_acoustic_THz) < 1e-3
    assert tdep.dos_integral == pytest.approx(3.0, rel=0.01)
    assert not tdep.has_imaginary
    assert tdep.band_weights["Ar"] == pytest.approx(np.ones_like(a))


def test_kappa_c_is_small_for_argon(argon_20K):
    import json

    run, out, res = argon_20K
    assert res.kappa_p_W_mK > 0 and res.kappa_c_W_mK >= 0
    assert res.kappa_c_W_mK < 0.05 * res.kappa_p_W_mK
    assert np.isfinite(res.mesh_change)
    w = json.loads((out / "wigner.json").read_text())
    # cumulative spectra end at the scalars
    assert w["cumulative_kappa_p_W_mK"][0][-1] == pytest.approx(res.kappa_p_W_mK, rel=1e-9)
    assert w["cumulative_kappa_c_W_mK"][0][-1] == pytest.approx(res.kappa_c_W_mK, rel=1e-9)
    # a second call reuses every stage
    from mdargy.lattice.pipeline import lattice_from_run

    again = lattice_from_run(run, out, mesh=8)
    assert again.kappa_p_W_mK == res.kappa_p_W_mK


def test_classical_heat_capacity_is_quantum_at_high_T(argon_20K):
    from mdargy.lattice.phonons import read_fc2
    from mdargy.lattice.snapshots import SnapshotSet
    from mdargy.lattice.wigner import read_fc3, wigner_conductivity

    run, out, res = argon_20K
    ref = SnapshotSet.load(out / "snapshots.npz").reference
    fc2, fc3 = read_fc2(out / "fc2.hdf5"), read_fc3(out / "fc3.hdf5")
    q = wigner_conductivity(ref.unitcell, ref.reps, fc2, fc3, [5.0, 2000.0], mesh=6)
    c = wigner_conductivity(ref.unitcell, ref.reps, fc2, fc3, [5.0, 2000.0], mesh=6,
                            classical=True)
    assert c.kappa_p_scalar_W_mK[1] == pytest.approx(q.kappa_p_scalar_W_mK[1], rel=2e-3)
    assert c.kappa_p_scalar_W_mK[0] > 1.5 * q.kappa_p_scalar_W_mK[0]  # frozen modes at 5 K
    assert c.classical_note


def test_imaginary_modes_are_listed_not_raised(argon_1K):
    from mdargy.lattice.phonons import compute_phonons, read_fc2

    snaps, fit, out = argon_1K
    ref = snaps.reference
    r = compute_phonons(ref.unitcell, ref.reps, -read_fc2(out / "fc2.hdf5"), mesh=4)
    assert r.has_imaginary and r.min_freq_THz < -1.0
    assert r.imaginary_modes[0]["freq_THz"] < 0 and len(r.imaginary_modes[0]["q"]) == 3
    assert "IMAGINARY" in r.summary()


def test_snapshot_file_round_trip(argon_1K, tmp_path):
    from mdargy.lattice.snapshots import SnapshotSet

    snaps, _, _ = argon_1K
    back = SnapshotSet.load(snaps.save(tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.forces_eV_A, snaps.forces_eV_A)
    assert back.reference.reps == snaps.reference.reps
    assert back.diffusion.ok and back.n_snapshots == 8


# -- bad input ----------------------------------------------------------------------------------

def test_cutoffs_too_long_and_clipped_defaults(argon_1K):
    from mdargy.lattice.fcfit import max_cutoff_A, resolve_cutoffs

    sc = argon_1K[0].reference.supercell
    lim = max_cutoff_A(sc)
    assert lim == pytest.approx(0.5 * sc.cell.lengths()[0], abs=0.02)
    with pytest.raises(InputError, match=r"order-2 cutoff 9 Å is too long.*at most 7\.9"):
        resolve_cutoffs(sc, {2: 9.0})
    cut, msgs = resolve_cutoffs(sc, None, max_order=4)
    assert cut == {2: 7.5, 3: 6.0, 4: 3.5} and not msgs
    from mdargy.lattice.snapshots import make_reference

    small = make_reference(argon_1K[0].reference.unitcell, (2, 2, 2)).supercell
    cut, msgs = resolve_cutoffs(small, None, max_order=3)
    assert cut == {2: pytest.approx(max_cutoff_A(small)), 3: pytest.approx(max_cutoff_A(small))}
    assert "order-2 cutoff clipped from the default 7.5 Å to 5.29 Å" in msgs[0]
    assert "order-3 cutoff clipped from the default 6 Å" in msgs[1]


def test_underdetermined_fit_is_refused(argon_1K):
    from mdargy.lattice.fcfit import fit_force_constants

    snaps = argon_1K[0]
    with pytest.raises(InputError, match=r"underdetermined fit: 2592 force components \(8 "
                                         r"snapshots × 108 atoms × 3\) for \d+ parameters"):
        fit_force_constants(snaps, {2: 7.0, 3: 4.0}, min_overdetermination=1000)


def test_unmappable_atoms_are_refused(argon_1K):
    from mdargy.lattice.snapshots import map_to_reference

    sc = argon_1K[0].reference.supercell
    x = sc.positions.copy()
    els = sc.get_chemical_symbols()
    order, u = map_to_reference(x[::-1] + 0.05, els[::-1], sc.cell.array, sc)
    np.testing.assert_array_equal(order, np.arange(len(x))[::-1])
    np.testing.assert_allclose(u, 0.05)
    x[5] += [1.8, 0.0, 0.0]  # halfway between two sites (nearest neighbours 3.75 Å apart)
    with pytest.raises(InputError, match=r"1 Ar atom\(s\) do not map.*atom 5 is 1\.8\d Å"):
        map_to_reference(x, els, sc.cell.array, sc)
    x = sc.positions.copy()
    x[5] = x[6] + 0.1  # two atoms on one site
    with pytest.raises(InputError, match="claimed by more than one atom"):
        map_to_reference(x, els, sc.cell.array, sc)
    with pytest.raises(InputError, match="composition"):
        map_to_reference(sc.positions, ["Kr"] + els[1:], sc.cell.array, sc)


def test_a_diffusing_run_is_refused(tmp_path):
    """Liquid LJ argon (300 K at the solid's density, far above melting): refused."""
    from mdargy.lattice.snapshots import snapshots_from_run

    run = _emd(tmp_path / "liquid", 300.0, steps=4000, eq=1000, dt_fs=2.0)
    with pytest.raises(InputError, match=r"the run diffused.*Ar: MSD grows from .* Å².*D ≈"):
        snapshots_from_run(run, n_snapshots=5)


def test_window_limits_snapshots_and_refuses_too_few_frames(tmp_path):
    """skip_ps/window_ps: frames, diffusion check and reference come from that stretch only."""
    from mdargy.lattice.snapshots import snapshots_from_run

    run = _emd(tmp_path / "ar", 1.0)  # 10 ps, a frame every 0.25 ps
    snaps = snapshots_from_run(run, n_snapshots=6, skip_ps=2.0, window_ps=5.0)
    assert snaps.frames.min() == 8 and snaps.frames.max() == 28  # 2.0 ps .. 7.0 ps
    assert snaps.diffusion is not None and snaps.diffusion.time_ps == pytest.approx(5.0)
    with pytest.raises(InputError, match=r"window_ps = 1 leave 5 of 41 frames"):
        snapshots_from_run(run, n_snapshots=6, skip_ps=2.0, window_ps=1.0)
    # the mapping tolerance reaches the pipeline: thermal motion at 1 K exceeds 0.001 Å
    from mdargy.lattice.pipeline import lattice_from_run
    with pytest.raises(InputError, match=r"limit 0.001 Å"):
        lattice_from_run(run, tmp_path / "fc", n_snapshots=6, window_ps=5.0,
                         max_displacement_A=0.001)


def test_diffusion_check_on_arrays():
    from mdargy.lattice.snapshots import diffusion_check

    rng = np.random.default_rng(0)
    n_frames, n = 200, 20
    vib = rng.normal(0, 0.1, (n_frames, n, 3))
    ok = diffusion_check(vib, ["A"] * n, 0.1)
    assert ok.ok and abs(ok.growth_A2[0]) < 0.05
    walk = vib + np.cumsum(rng.normal(0, 0.2, (n_frames, n, 3)), axis=0)
    bad = diffusion_check(walk, ["A"] * n, 0.1)
    assert not bad.ok and bad.growth_A2[0] > 1.0
    # expected MSD growth of the walk: 3 × 0.04 Å² per frame × 50 frames
    assert bad.growth_A2[0] == pytest.approx(6.0, rel=0.35)


def test_symmetrised_average_reference_recovers_a_symmetric_shift():
    """Mean positions = the P2_13 cell with the P x parameter changed by 0.01 (the orbit of
    (x+δ, x+δ, x+δ) under the space group) plus noise; the symmetrised average recovers it."""
    import spglib

    from mdargy.lattice.snapshots import make_reference, symmetrized_average_reference
    from mdargy.structures.load import read_structure

    uc = read_structure("inputs/structures/Cu7PS6_P213_derived.cif")
    ref = make_reference(uc, (2, 2, 2))
    frac = uc.get_scaled_positions()
    sym = spglib.get_symmetry((uc.cell[:], frac, uc.numbers), symprec=1e-3)
    p_idx = [i for i, s in enumerate(uc.get_chemical_symbols()) if s == "P"]
    x0 = frac[p_idx[0]]
    assert np.allclose(x0, x0[0])  # the 4a site (x, x, x)
    orbit = np.array([R @ (x0 + 0.01) + t for R, t in zip(sym["rotations"],
                                                            sym["translations"])]) % 1.0
    new = frac.copy()
    for i in p_idx:
        d = orbit - frac[i]
        d -= np.round(d)
        new[i] = frac[i] + d[np.argmin(np.linalg.norm(d, axis=1))]
    target = uc.copy()
    target.set_scaled_positions(new)
    mean = target.repeat((2, 2, 2)).positions
    rng = np.random.default_rng(1)
    mean = mean + rng.normal(0, 0.02, mean.shape)
    out, moved = symmetrized_average_reference(ref, mean, ref.supercell.cell.array,
                                               ref.supercell.get_chemical_symbols())
    shift = np.linalg.norm(out.unitcell.positions - uc.positions, axis=1)
    expect = np.linalg.norm(target.positions - uc.positions, axis=1)
    assert expect[p_idx].min() == pytest.approx(0.01 * np.sqrt(3) * uc.cell[0, 0], rel=1e-6)
    np.testing.assert_allclose(shift, expect, atol=0.01)
    assert spglib.get_spacegroup((out.unitcell.cell[:], out.unitcell.get_scaled_positions(),
                                  out.unitcell.numbers), symprec=1e-4) == "P2_13 (198)"


def test_normal_equations_fit_equals_trainstation():
    """The large-problem path (normal equations, Gram-update CV) gives trainstation's
    least-squares parameters and its k-fold CV score (pooled over folds here)."""
    from trainstation import CrossValidationEstimator

    from mdargy.lattice.fcfit import _normal_fit

    rng = np.random.default_rng(0)
    A = rng.normal(size=(3000, 60)) * rng.uniform(0.1, 10, 60)
    y = A @ rng.normal(size=60) + rng.normal(0, 0.1, 3000)
    p, cv, r2 = _normal_fit(A, y, 5)
    ref = CrossValidationEstimator((A, y), fit_method="least-squares", n_splits=5,
                                   validation_method="k-fold", shuffle=False, seed=None,
                                   check_condition=False)
    ref.validate()
    ref.train()
    np.testing.assert_allclose(p, ref.parameters, atol=1e-10)
    assert cv == pytest.approx(ref.rmse_validation, rel=1e-2)
    assert cv == pytest.approx(0.1, rel=0.05)  # the noise level
    assert r2 == pytest.approx(ref.R2_validation, abs=1e-6)
