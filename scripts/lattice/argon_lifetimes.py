"""LJ argon at 50 K: phonon lifetimes measured in MD against phono3py's three-phonon lifetimes.

Why phono3py's κ (three-phonon scattering, RTA) exceeds the Green–Kubo κ of the same model:
this script measures the lifetime of every phonon mode of a 5×5×5-cell (500 atoms) NVE run by
normal-mode analysis (the spectral energy density of each mode's velocity amplitude is a
Lorentzian whose half width γ gives τ = 1/(4πγ); McGaughey & Kaviany, Phys. Rev. B 69, 094303
(2004); Thomas, Turney, Iutzi, Amon & McGaughey, Phys. Rev. B 81, 081411 (2010)) and compares
them with phono3py's classical three-phonon lifetimes of the *same* modes (the 500 q-points
commensurate with the MD cell lie on phono3py's 10×10×10 mesh of the fcc primitive cell). MD
has every order of anharmonicity; phono3py only the cubic one.

Both lifetime sets then give an RTA conductivity on the same modes, κ = Σ k_B v_x² τ / V
(classical heat capacity, group velocities of the TDEP fc2):

* ``kappa_rta_md``: with the MD lifetimes (compare with Green–Kubo of the 500-atom cell);
* ``kappa_rta_3ph``: with phono3py's classical three-phonon lifetimes.

Force constants: the TDEP fit of ``scripts/lattice/argon_kappa_vs_md.py --a A`` (run it first).
The MD (about 5e7 atom-steps) lives in runs/lattice/ and resumes.

    nice -n 10 .venv/bin/python scripts/lattice/argon_lifetimes.py --a 5.4016

Writes results/argon/lifetimes_50K_a<A>.json.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.io import read, write
from phonopy.phonon.grid import get_grid_point_from_address, get_ir_grid_points
from scipy.optimize import minimize

from mdargy.drivers.config import EMDConfig
from mdargy.drivers.emd import EMDResult, run_emd
from mdargy.errors import AlreadyDoneError
from mdargy.io.atomic import atomic_write_json
from mdargy.io.trajectory import load_trajectory
from mdargy.lattice.fcfit import phono3py_object
from mdargy.lattice.phonons import phonopy_object, read_fc2
from mdargy.lattice.snapshots import SnapshotSet
from mdargy.lattice.wigner import read_fc3

ROOT = Path(__file__).resolve().parent.parent.parent
T_K = 50.0
T_CLASSICAL_K = 5000.0  # phono3py linewidths at T' scaled by T/T' are the classical ones
K_B = 1.380649e-23
AMU = 1.66053906660e-27
CELLS = 5
MESH = 2 * CELLS  # the cubic 5^3 cell's q-points on the primitive fcc mesh


def md_run(a_A: float, ps: float = 600.0, every_fs: float = 25.0):
    run = ROOT / "runs" / "lattice" / f"ar-50K-nma-{CELLS}-a{a_A:.4f}"
    cif = run.parent / f"Ar_fcc_a{a_A:.4f}.cif"
    if not cif.is_file():
        cif.parent.mkdir(parents=True, exist_ok=True)
        write(cif, bulk("Ar", "fcc", a=a_A, cubic=True))
    cfg = EMDConfig.from_dict(dict(
        structure=str(cif), replicate=[CELLS] * 3, output_dir=str(run), temperature_K=T_K,
        timestep_fs=5.0, seed=31337, neighbor_skin_A=1.0, equilibration_ps=20.0,
        production_ensemble="nve", production_ps=ps, dump_every_fs=every_fs,
        thermo_every_fs=5000.0, checkpoint_every_ps=200.0, text_dump=False,
        potential={"kind": "lj", "cutoff_A": 8.5, "extra_commands": ["pair_modify shift yes"],
                   "masses_amu": {"Ar": 39.948},
                   "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}}}))
    try:
        res = run_emd(cfg, progress=True)
    except AlreadyDoneError:
        res = EMDResult.from_json(run / "result.json")
    return res, cif


def lorentzian_fit(f, p, f0, gamma0):
    """Whittle maximum-likelihood fit of S(f) = A / (1 + ((f - f0)/γ)²) + B to a periodogram
    ``p`` (exponentially distributed about S). Returns (f0, γ, A, B) in the units of ``f``."""
    pmax = float(p.max())

    def model(x):
        c, lg, la, lb = x
        return np.exp(la) / (1.0 + ((f - c) / np.exp(lg)) ** 2) + np.exp(lb)

    def nll(x):
        s = model(x)
        return float(np.sum(np.log(s) + p / s))

    x0 = [f0, np.log(gamma0), np.log(pmax), np.log(max(np.median(p), 1e-12 * pmax))]
    r = minimize(nll, x0, method="Nelder-Mead",
                 options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000, "maxfev": 8000})
    c, lg, la, lb = r.x
    return float(c), float(np.exp(lg)), float(np.exp(la)), float(np.exp(lb))


def main(a_A: float) -> int:
    fit_dir = ROOT / "runs" / "lattice" / f"ar-50K-4x4x4-a{a_A:.4f}" / "lattice"
    if not (fit_dir / "fc3.hdf5").is_file():
        raise SystemExit(f"no force constants in {fit_dir}: run argon_kappa_vs_md.py --a {a_A}")
    ref = SnapshotSet.load(fit_dir / "snapshots.npz").reference
    fc2, fc3 = read_fc2(fit_dir / "fc2.hdf5"), read_fc3(fit_dir / "fc3.hdf5")

    # -- phono3py: classical three-phonon linewidths on the mesh of the MD cell's q-points ----
    ph3 = phono3py_object(ref.unitcell, ref.reps, mesh=[MESH] * 3)
    ph3.fc2, ph3.fc3 = fc2, fc3
    ph3.init_phph_interaction()
    ph3.run_thermal_conductivity(temperatures=[T_CLASSICAL_K])
    tc = ph3.thermal_conductivity
    gamma3 = np.asarray(tc.gamma)[0, 0] * (T_K / T_CLASSICAL_K)  # (n_ir, nb), THz (HWHM)
    freq3 = np.asarray(tc.frequencies)
    ir_bz = list(np.asarray(tc.grid_points))
    _, _, ir_map = get_ir_grid_points(ph3.grid)

    # -- MD and the modes of its cell ------------------------------------------------------
    res, _ = md_run(a_A)
    traj = load_trajectory(res.trajectory_path)
    V = np.asarray(traj.velocities, dtype=float)  # (nt, n, 3), Å/ps
    dt = float(traj.dt_ps)
    nt, n, _ = V.shape
    ph = phonopy_object(ref.unitcell, ref.reps, fc2)
    prim = ph.primitive
    if len(prim) != 1:
        raise SystemExit("expected the one-atom fcc primitive cell")
    data = read(Path(res.output_dir) / "structure.data", format="lammps-data",
                atom_style="atomic")
    x0 = data.positions
    box_A = float(data.cell.lengths()[0])
    prim_lat = np.asarray(prim.cell)  # rows, Å (the fit's cell: the lattice of this run)
    if abs(prim_lat[0] @ prim_lat[0] - box_A ** 2 / CELLS ** 2 / 2) > 1e-4:
        raise SystemExit("the MD cell and the force constants have different lattices")
    m_kg = 39.948 * AMU
    vol_m3 = box_A ** 3 * 1e-30
    fr = np.fft.fftfreq(nt, d=dt)  # THz
    # the q-points of the cubic MD cell, (i, j, k) / (CELLS a), once each modulo the fcc
    # reciprocal lattice: CELLS^3 * 4 of them, on the primitive MESH^3 grid
    qs, seen = [], set()
    for ijk in np.ndindex(2 * CELLS, 2 * CELLS, 2 * CELLS):
        q_cart = np.array(ijk) / box_A  # 1/Å without 2π
        q_red = prim_lat @ q_cart
        addr = np.rint(q_red * MESH).astype(int) % MESH
        if tuple(addr) not in seen:
            seen.add(tuple(addr))
            qs.append((q_cart, q_red, addr))
    if len(qs) != n:
        raise SystemExit(f"found {len(qs)} distinct q-points, expected {n}")
    out_modes = []
    for q_cart, q_red, addr in qs:
        if not np.any(addr):
            continue  # Γ: acoustic translations carry no heat in RTA
        ph.run_qpoints([q_red], with_eigenvectors=True, with_group_velocities=True)
        d = ph.get_qpoints_dict()
        w = d["frequencies"][0]  # THz
        e = d["eigenvectors"][0]  # (3, 3): columns are modes
        vg = d["group_velocities"][0]  # (3, 3) THz Å
        phase = np.exp(-2j * np.pi * (x0 @ q_cart))  # (n,)
        amp = np.einsum("tja,as,j->st", V, e.conj(), phase) * np.sqrt(m_kg / n)
        P = np.abs(np.fft.fft(amp, axis=1)) ** 2  # (3, nt)
        gr = int(get_grid_point_from_address(addr, ph3.grid.D_diag))
        kir = ir_bz.index(int(ph3.grid.grg2bzg[ir_map[gr]]))
        if not np.allclose(np.sort(freq3[kir]), np.sort(w), atol=2e-3):
            raise SystemExit(f"q {q_red}: phonopy {w} and phono3py {freq3[kir]} disagree")
        for s in range(3):
            g3 = float(gamma3[kir, s])
            # the mode's peak sits at +w (its -q partner at -w): fit the positive side
            sel = (fr > w[s] - 0.6) & (fr < w[s] + 0.6) & (fr > 0.02)
            f0, gam, A, B = lorentzian_fit(fr[sel], P[s, sel], w[s], max(g3, 0.005))
            tau_md = 1.0 / (4 * np.pi * gam)  # ps
            tau_3 = 1.0 / (4 * np.pi * g3)
            vx2 = float(np.sum(np.asarray(vg[s]) ** 2) / 3.0) * 1e4  # (m/s)², THz Å = 100 m/s
            out_modes.append({"q_red": [float(x) for x in q_red], "band": s,
                              "freq_THz": float(w[s]), "freq_md_THz": f0,
                              "gamma_md_THz": gam, "gamma_3ph_THz": g3, "tau_md_ps": tau_md,
                              "tau_3ph_ps": tau_3, "v2_m2_s2": vx2})
    k_md = sum(K_B * m["v2_m2_s2"] * m["tau_md_ps"] * 1e-12 for m in out_modes) / vol_m3
    k_3 = sum(K_B * m["v2_m2_s2"] * m["tau_3ph_ps"] * 1e-12 for m in out_modes) / vol_m3
    ratio = np.array([m["tau_md_ps"] / m["tau_3ph_ps"] for m in out_modes])
    fq = np.array([m["freq_THz"] for m in out_modes])
    bands = [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 3.0)]
    summary = {
        "a_A": a_A, "T_K": T_K, "cells": [CELLS] * 3, "n_atoms": n, "md_ps": nt * dt,
        "md_T_mean_K": res.T_mean_K, "n_modes": len(out_modes), "mesh": MESH,
        "kappa_rta_md_W_mK": k_md, "kappa_rta_3ph_W_mK": k_3,
        "tau_md_over_tau_3ph_median": float(np.median(ratio)),
        "tau_md_over_tau_3ph_by_freq": [
            {"freq_THz": list(b), "n": int(((fq >= b[0]) & (fq < b[1])).sum()),
             "median": float(np.median(ratio[(fq >= b[0]) & (fq < b[1])]))}
            for b in bands if ((fq >= b[0]) & (fq < b[1])).any()],
        "note": "RTA sums over the 1497 non-Γ modes of the 500-atom cell with classical heat "
                "capacity and TDEP group velocities; lifetimes from MD (all orders, finite "
                "cell) and from phono3py (three-phonon, classical occupations, 10^3 mesh)",
        "command": f"nice -n 10 .venv/bin/python scripts/lattice/argon_lifetimes.py --a {a_A:g}",
        "modes": out_modes,
    }
    out = ROOT / "results" / "argon" / f"lifetimes_50K_a{a_A:.4f}.json"
    atomic_write_json(out, summary)
    print({k: v for k, v in summary.items() if k != "modes"})
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=float, default=5.4016, help="fcc lattice constant, Å")
    sys.exit(main(p.parse_args().a))
