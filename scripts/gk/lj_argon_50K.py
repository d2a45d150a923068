"""LJ argon at 50 K: why Green–Kubo, NEMD and phono3py disagreed, measured (resumable).

Each step is one MD run (one MPI rank; run under ``nice -n 10``) in ``runs/gk/lj50/<name>``
(git-ignored), resumed from its last checkpoint when repeated and read back when finished. The
small results are merged into ``scripts/gk/validation/lj_argon_50K_study.json``.

    S=scripts/gk/lj_argon_50K.py
    nice -n 10 .venv/bin/python $S npt                    # zero-pressure a(50 K): 5.4016 Å
    nice -n 10 .venv/bin/python $S gk CELLS NS [A]        # GK, CELLS^3 fcc cells, NS ns NVE
    nice -n 10 .venv/bin/python $S nemd NX NY DT NS [A]   # NEMD bar NX x NY x NY, baths ±DT/2
    nice -n 10 .venv/bin/python $S nemd-fit DT NY [A]     # 1/κ = 1/κ∞ + A/L over those bars
    nice -n 10 .venv/bin/python $S nemd-seeds NX NY DT NS N [A]  # is NEMD's σ(κ) right? N seeds

The model is that of ``inputs/examples/lj_argon_*.toml``: ε = 0.0104 eV, σ = 3.40 Å, cut at
8.5 Å and shifted, 5 fs steps, fcc at the lattice constant ``A`` (Å; default 5.30, the
lattice of the examples and of the first validation runs, where this model sits at +1.1 kbar).
The runs here use a 1 Å neighbour skin (1.8 M atom-steps/s on one idle core).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mdargy.analysis.greenkubo import (cepstral_kappa, green_kubo, periodogram,
                                       running_integral)
from mdargy.analysis.kappa import extrapolate_kappa
from mdargy.analysis.nemd import analyse_nemd
from mdargy.drivers.config import EMDConfig, NEMDConfig
from mdargy.drivers.emd import EMDResult, run_emd
from mdargy.drivers.nemd import NEMDResult, run_nemd
from mdargy.errors import AlreadyDoneError
from mdargy.io.atomic import atomic_write_json
from mdargy.io.heatflux import read_heatflux
from mdargy.io.thermo import read_thermo_csv

ROOT = Path(__file__).resolve().parent.parent.parent
RUNS = ROOT / "runs" / "gk" / "lj50"
OUT = ROOT / "scripts" / "gk" / "validation" / "lj_argon_50K_study.json"
POTENTIAL = {"kind": "lj", "cutoff_A": 8.5, "extra_commands": ["pair_modify shift yes"],
             "masses_amu": {"Ar": 39.948},
             "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}}}
A_DEFAULT = 5.30
SKIN_A = 1.0  # rms displacement at 50 K is ~0.2 Å; neighbour lists checked every step


def structure(a_A: float) -> str:
    """An fcc conventional cell of lattice constant ``a_A`` (written under runs/)."""
    from ase.build import bulk
    from ase.io import write

    path = RUNS / "structures" / f"Ar_fcc_a{a_A:.4f}.cif"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, bulk("Ar", "fcc", a=a_A, cubic=True))
    return str(path)


def _run(fn, cls, config):
    done = Path(config.output_dir) / "result.json"
    if done.exists():
        return cls.from_json(done)
    try:
        return fn(config, progress=True)
    except AlreadyDoneError:
        return cls.from_json(done)


def record(key: str, value) -> None:
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    data[key] = value
    data["model"] = ("LJ argon: eps 0.0104 eV, sigma 3.40 A, rc 8.5 A shifted, 5 fs steps, "
                     "fcc; one MPI rank")
    atomic_write_json(OUT, data)
    print(json.dumps(value, indent=1)[:4000])


def npt():
    """150 ps NPT (0 bar, iso) of 5^3 cells: mean lattice constant over the last 75 ps."""
    cfg = EMDConfig.from_dict(dict(
        structure=structure(A_DEFAULT), replicate=[5, 5, 5], output_dir=str(RUNS / "npt-5"),
        temperature_K=50.0, timestep_fs=5.0, seed=6060, potential=POTENTIAL,
        neighbor_skin_A=SKIN_A, equilibration_ensemble="npt", equilibration_ps=150.0,
        pressure_bar=0.0, pdamp_fs=2500.0, production_ensemble="nvt", production_ps=5.0,
        dump_every_fs=5000.0, text_dump=False, thermo_every_fs=500.0, checkpoint_every_ps=50.0))
    r = _run(run_emd, EMDResult, cfg)
    th = read_thermo_csv(Path(r.output_dir) / "thermo.csv", stage="equilibration")
    t, lx, p, T = th["time_ps"], th["lx_A"], th["press_bar"], th["T_K"]
    sel = t >= t[-1] - 75.0
    n_blk = 5
    a_blk = [b.mean() / 5 for b in np.array_split(lx[sel], n_blk)]
    a = float(np.mean(a_blk))
    record("npt_0bar", {
        "cells": [5, 5, 5], "npt_ps": 150.0, "window_ps": 75.0,
        "a_A": a, "a_err_A": float(np.std(a_blk, ddof=1) / np.sqrt(n_blk)),
        "pressure_bar": float(p[sel].mean()), "T_K": float(T[sel].mean()),
        "note": "zero-pressure lattice constant of this LJ model at 50 K (truncated at 8.5 A "
                "without a tail correction)",
        "command": "nice -n 10 .venv/bin/python scripts/gk/lj_argon_50K.py npt"})


def analyse_gk(run_dir: Path, n_segments: int = 10) -> dict:
    """κ of one heat-current file by several estimators (W/m/K).

    * ``cepstral_auto``: ``mdargy gk``'s default (f* where 95 % of the power lies below);
    * ``cepstral_fstar``: the same at lower cutoffs f* (THz), where the filter resolves a
      narrower zero-frequency peak (about f*/P*);
    * ``periodogram_band``: the mean of the raw periodogram over (0, f] (χ² with 6 n_f degrees
      of freedom: σ = mean/sqrt(3 n_f)); biased low by the curvature of the peak over the band;
    * ``running``: the running integral at a few lags, with σ from the spread over
      ``n_segments`` independent pieces of the run.
    """
    h = read_heatflux(Path(run_dir) / "heatflux.dat")
    J, dt, V, T = h.J_eVA_ps, h.dt_ps, h.volume_A3, h.temperature_K
    n = len(J)
    g = green_kubo(J, dt, V, T, max_lag_ps=100.0)
    out = {"n_samples": n, "dt_ps": dt, "duration_ps": n * dt, "volume_A3": V, "T_K": T,
           "cepstral_auto": {"kappa_W_mK": g.kappa_W_mK, "kappa_err_W_mK": g.kappa_err_W_mK,
                             "fstar_THz": g.fstar_THz, "cutoffK": g.cutoffK,
                             "flags": list(g.flags)},
           "cepstral_fstar": [], "periodogram_band": [], "running": []}
    for fs in (0.25, 0.5, 1.0, 2.0):
        c = cepstral_kappa(J, dt, V, T, fs)
        out["cepstral_fstar"].append({"fstar_THz": c.fstar_THz, "kappa_W_mK": c.kappa_W_mK,
                                      "kappa_err_W_mK": c.kappa_err_W_mK,
                                      "cutoffK": c.cutoffK})
    f, kw = periodogram(J, dt, V, T)
    for band in (0.01, 0.02, 0.05):
        m = (f > 0) & (f <= band)
        k = float(kw[m].mean())
        out["periodogram_band"].append({"band_THz": band, "n_freqs": int(m.sum()),
                                        "kappa_W_mK": k,
                                        "kappa_err_W_mK": k / float(np.sqrt(3 * m.sum()))})
    lag, k_all = running_integral(J, dt, V, T, max_lag_ps=60.0)
    L = n // n_segments
    segs = np.array([running_integral(J[s * L:(s + 1) * L], dt, V, T, max_lag_ps=60.0)[1]
                     for s in range(n_segments)])
    for t in (5.0, 10.0, 20.0, 30.0, 50.0):
        i = int(round(t / dt))
        out["running"].append({"lag_ps": t, "kappa_W_mK": float(k_all[i]),
                               "kappa_err_W_mK": float(segs[:, i].std(ddof=1)
                                                       / np.sqrt(n_segments))})
    return out


def gk(cells, ns, a_A=A_DEFAULT):
    """NVT 20 ps, then NVE ``ns`` ns of ``cells``^3 fcc cells, J every 20 fs; then analysed."""
    cells, ns, a = int(cells), float(ns), float(a_A)
    name = f"gk-{cells}-a{a:.3f}-{ns:g}ns"
    cfg = EMDConfig.from_dict(dict(
        structure=structure(a), replicate=[cells] * 3, output_dir=str(RUNS / name),
        temperature_K=50.0, timestep_fs=5.0, seed=7000 + cells, potential=POTENTIAL,
        neighbor_skin_A=SKIN_A, equilibration_ensemble="nvt", equilibration_ps=20.0,
        production_ensemble="nve", production_ps=ns * 1000.0, heat_every_fs=20.0,
        dump_every_fs=ns * 1e6, text_dump=False, thermo_every_fs=5000.0,
        checkpoint_every_ps=200.0))
    r = _run(run_emd, EMDResult, cfg)
    res = {"cells": [cells] * 3, "n_atoms": r.n_atoms, "a_A": a, "nve_ns": ns,
           "T_mean_K": r.T_mean_K, **analyse_gk(Path(r.output_dir)),
           "command": f"nice -n 10 .venv/bin/python scripts/gk/lj_argon_50K.py gk {cells} {ns:g} "
                      f"{a:g}"}
    record(name, res)


def reanalyse_nemd(run_dir: Path, config: NEMDConfig, exclude_bins: float) -> dict:
    """κ of a finished bar again, with ``exclude_bins`` bins next to each bath left out."""
    out = Path(run_dir)
    blocks = read_thermo_csv(out / "blocks.csv")
    prof = np.loadtxt(out / "profiles.csv", delimiter=",", skiprows=1)[:, 1:]
    res = NEMDResult.from_json(out / "result.json")
    L, S, n = res.length_A, res.area_A2, config.n_bins
    w = L / n
    an = analyse_nemd((np.arange(n) + 0.5) * w, prof, blocks["heat_in_eV"],
                      blocks["heat_out_eV"], config.block_steps * config.timestep_ps, L, S,
                      (0.0, w), (n // 2 * w, (n // 2 + 1) * w), exclude_A=exclude_bins * w,
                      n_error_blocks=config.n_error_blocks, dE_system_eV=blocks["dE_system_eV"])
    up = an.up_mask
    return {"exclude_bins": exclude_bins, "kappa_W_mK": an.kappa_W_mK,
            "kappa_err_W_mK": an.kappa_err_W_mK,
            "T_fit_region_K": float(an.T_K[up | an.down_mask].mean())}


def nemd(nx, ny, dT, ns, a_A=A_DEFAULT):
    """Langevin baths at 50 ± dT/2 K on one-cell slabs of an nx × ny × ny bar, ``ns`` ns."""
    nx, ny, dT, ns, a = int(nx), int(ny), float(dT), float(ns), float(a_A)
    name = f"nemd-{nx}x{ny}x{ny}-dT{dT:g}-a{a:.3f}-{ns:g}ns"
    cfg = NEMDConfig.from_dict(dict(
        structure=structure(a), replicate=[nx, ny, ny], output_dir=str(RUNS / name),
        temperature_K=50.0, timestep_fs=5.0, seed=800 + nx + ny, potential=POTENTIAL,
        neighbor_skin_A=SKIN_A, method="langevin", bins_per_cell=1, bath_cells=1,
        delta_T_K=dT, bath_damp_fs=250.0, equilibration_ps=20.0, production_ps=ns * 1000.0,
        block_ps=5.0, sample_every_fs=50.0, fit_exclude_bins=1, n_error_blocks=5,
        checkpoint_every_ps=100.0))
    r = _run(run_nemd, NEMDResult, cfg)
    refits = [reanalyse_nemd(Path(r.output_dir), cfg, e) for e in (1, 2, 3)
              if nx // 2 - 1 - 2 * e >= 3]
    record(name, {
        "replicate": [nx, ny, ny], "n_atoms": r.n_atoms, "a_A": a, "delta_T_K": dT,
        "nemd_ns": ns, "length_A": r.length_A, "area_A2": r.area_A2,
        "kappa_W_mK": r.kappa_W_mK, "kappa_err_W_mK": r.kappa_err_W_mK,
        "T_mean_K": r.T_mean_K, "gradient_asymmetry": r.gradient_asymmetry,
        "imbalance_fraction": r.imbalance_fraction, "steady_ps": r.steady_time_ps,
        "fit_exclusion_scan": refits,
        "command": f"nice -n 10 .venv/bin/python scripts/gk/lj_argon_50K.py nemd {nx} {ny} "
                   f"{dT:g} {ns:g} {a:g}"})


def nemd_fit(dT="20", ny="3", a_A=A_DEFAULT, T_ref=None):
    """1/κ = 1/κ∞ + A/L over the recorded bars of one ΔT, cross-section and lattice; with
    ``T_ref`` (K) each κ(L) is first moved from its fit-region temperature to T_ref with κ ∝ 1/T
    (the classical three-phonon scaling, an approximation)."""
    dT, ny, a = float(dT), int(ny), float(a_A)
    T_ref = None if T_ref is None else float(T_ref)
    data = json.loads(OUT.read_text())
    bars = sorted((v for k, v in data.items() if k.startswith("nemd-") and "replicate" in v
                   and v["delta_T_K"] == dT and v["replicate"][1] == ny
                   and abs(v["a_A"] - a) < 1e-3), key=lambda v: v["length_A"])
    T_fit = [b["fit_exclusion_scan"][0]["T_fit_region_K"] for b in bars]
    f = [1.0 if T_ref is None else t / T_ref for t in T_fit]
    k = [b["kappa_W_mK"] * x for b, x in zip(bars, f)]
    ex = extrapolate_kappa([b["length_A"] for b in bars], k,
                           [b["kappa_err_W_mK"] * x for b, x in zip(bars, f)],
                           T_K=T_ref or 50.0)
    tag = "" if T_ref is None else f"-at{T_ref:g}K"
    record(f"nemd-extrapolation-{ny}x{ny}-dT{dT:g}-a{a:.3f}{tag}", {
        "lengths_A": [b["length_A"] for b in bars], "T_fit_region_K": T_fit,
        "T_ref_K": T_ref, "kappa_W_mK": k,
        "kappa_inf_W_mK": ex.kappa_inf_W_mK, "kappa_inf_err_W_mK": ex.kappa_inf_err_W_mK,
        "chi2_red": ex.chi2_red, "A_AmK_W": ex.A_AmK_W,
        "command": f"nice -n 10 .venv/bin/python scripts/gk/lj_argon_50K.py nemd-fit {dT:g} {ny} "
                   f"{a:g}" + ("" if T_ref is None else f" {T_ref:g}")})


def _pulls(k, e) -> dict:
    """How the spread of independent κ_i compares with their σ_i: the weighted mean, χ²_red
    of the κ_i about it (N - 1 degrees of freedom; 1 when the σ_i are right), the ratio
    std(κ_i) / rms(σ_i) with its 1σ sampling error for N normal samples (1/sqrt(2(N - 1))),
    and the pulls (κ_i - κ̄_others) / sqrt(σ_i² + σ(κ̄_others)²)."""
    k, e = np.asarray(k, float), np.asarray(e, float)
    n = k.size
    w = 1.0 / e**2
    mean = float(np.sum(w * k) / np.sum(w))
    chi2 = float(np.sum(w * (k - mean) ** 2) / (n - 1))
    pulls = []
    for i in range(n):
        o = np.arange(n) != i
        wo = w[o]
        mo = np.sum(wo * k[o]) / np.sum(wo)
        pulls.append(float((k[i] - mo) / np.sqrt(e[i] ** 2 + 1.0 / np.sum(wo))))
    return {"kappa_mean_W_mK": mean, "kappa_mean_err_W_mK": float(np.sum(w) ** -0.5),
            "chi2_red": chi2, "std_over_rms_sigma": float(k.std(ddof=1) / np.sqrt(np.mean(e**2))),
            "std_over_rms_sigma_err": float(1.0 / np.sqrt(2 * (n - 1))),
            "pull_std": float(np.std(pulls, ddof=1)), "pull_mean": float(np.mean(pulls)),
            "pulls": pulls}


def nemd_seeds(nx, ny, dT, ns, n_seeds, a_A=A_DEFAULT):
    """``n_seeds`` independent runs of one bar (seeds 9000, 9001, ...): is σ(κ) right?

    Each finished run is recorded as it lands (resumable); then every run is analysed again
    from its block series with 5 and with 10 error groups (the campaigns of Cu7PS6 use 10), and
    the spread of the κ_i is compared with their σ_i: with the full σ (groups and the two heat
    paths in quadrature), with the groups' part alone and with the paths' part alone."""
    nx, ny, dT, ns, n_seeds, a = int(nx), int(ny), float(dT), float(ns), int(n_seeds), float(a_A)
    base = f"nemd-{nx}x{ny}x{ny}-dT{dT:g}-a{a:.3f}-{ns:g}ns"
    runs = []
    for s in range(n_seeds):
        seed = 9000 + s
        cfg = NEMDConfig.from_dict(dict(
            structure=structure(a), replicate=[nx, ny, ny],
            output_dir=str(RUNS / "seeds" / f"{base}-seed{seed}"),
            temperature_K=50.0, timestep_fs=5.0, seed=seed, potential=POTENTIAL,
            neighbor_skin_A=SKIN_A, method="langevin", bins_per_cell=1, bath_cells=1,
            delta_T_K=dT, bath_damp_fs=250.0, equilibration_ps=20.0, production_ps=ns * 1000.0,
            block_ps=5.0, sample_every_fs=50.0, fit_exclude_bins=1, n_error_blocks=10,
            checkpoint_every_ps=100.0))
        r = _run(run_nemd, NEMDResult, cfg)
        out = Path(r.output_dir)
        blocks = read_thermo_csv(out / "blocks.csv")
        prof = np.loadtxt(out / "profiles.csv", delimiter=",", skiprows=1)[:, 1:]
        n, L = cfg.n_bins, r.length_A
        w = L / n
        row = {"seed": seed, "T_mean_K": r.T_mean_K, "n_discarded_blocks": r.n_discarded_blocks}
        for groups in (5, 10):
            an = analyse_nemd((np.arange(n) + 0.5) * w, prof, blocks["heat_in_eV"],
                              blocks["heat_out_eV"], cfg.block_steps * cfg.timestep_ps, L,
                              r.area_A2, (0.0, w), (n // 2 * w, (n // 2 + 1) * w),
                              exclude_A=w, n_error_blocks=groups,
                              discard_blocks=r.n_discarded_blocks)
            row[f"groups{groups}"] = {"kappa_W_mK": an.kappa_W_mK,
                                      "kappa_err_W_mK": an.kappa_err_W_mK,
                                      "kappa_err_groups_W_mK": an.kappa_err_groups_W_mK,
                                      "kappa_err_paths_W_mK": an.kappa_err_paths_W_mK}
        runs.append(row)
        print(f"seed {seed}: kappa {row['groups10']['kappa_W_mK']:.4f} +- "
              f"{row['groups10']['kappa_err_W_mK']:.4f} W/m/K", flush=True)
    res = {"replicate": [nx, ny, ny], "n_atoms": r.n_atoms, "a_A": a, "delta_T_K": dT,
           "nemd_ns": ns, "length_A": r.length_A, "n_seeds": n_seeds, "runs": runs}
    if n_seeds >= 3:
        for groups in (5, 10):
            g = [x[f"groups{groups}"] for x in runs]
            k = [x["kappa_W_mK"] for x in g]
            res[f"groups{groups}"] = {
                part: _pulls(k, [x[key] for x in g])
                for part, key in (("full", "kappa_err_W_mK"),
                                  ("groups_only", "kappa_err_groups_W_mK"),
                                  ("paths_only", "kappa_err_paths_W_mK"))
                if all(x[key] > 0 for x in g)}
    res["command"] = (f"nice -n 10 .venv/bin/python scripts/gk/lj_argon_50K.py nemd-seeds {nx} "
                      f"{ny} {dT:g} {ns:g} {n_seeds} {a:g}")
    record(f"{base}-seeds", res)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"npt": npt, "gk": gk, "nemd": nemd, "nemd-fit": nemd_fit, "nemd-seeds": nemd_seeds}[cmd](*args)
