"""``campaign report``: gather the finished tasks into tables, figures and one summary page.

Produces, under ``OUTPUT/report/``:

* ``kappa_L.csv`` -- κ(L) ± σ of every NEMD task; ``kappa_inf.csv`` -- κ∞(T) ± σ from the fit
  1/κ = 1/κ∞ + A/L (:func:`mdargy.analysis.kappa.extrapolate_kappa`) at each temperature with
  at least two lengths;
* ``diffusion.csv`` -- D(T) ± σ per species (block-averaged Einstein fits, computed by each EMD
  task); ``arrhenius.csv`` -- D0, Ea per species with at least two temperatures of significant
  diffusion (:func:`mdargy.analysis.diffusion.fit_arrhenius`);
* ``dos_T<T>K.csv`` -- total and partial phonon DOS at each DOS temperature;
* ``kappa_wigner.csv`` -- Wigner κ_p, κ_c (phono3py) from the ``[lattice]`` temperatures, with
  the fit quality and the q-mesh check; figures of the dispersion, phonon DOS, spectral κ;
* ``ionic.csv`` -- σ_ion(T) ± σ, Nernst–Einstein σ, Haven ratio and Cu jump rates of the
  ``[ionic]`` temperatures; ``sigma_arrhenius.json`` -- Ea of σT;
* ``kappa_gk.csv`` -- Green–Kubo κ(T) ± σ (cepstral) of the EMD tasks that recorded the heat
  current; ``figures/kappa_methods_vs_T.png`` -- κ(T) of every method on one plot, with a
  measured band from ``[report]``;
* ``cost.csv`` -- what each finished task cost: atoms, ranks, attempts, wall time and
  core-hours (the wall time of every attempt times its ranks; summed on the summary page);
* ``report.json`` -- all of the above plus task statuses, warnings and provenance;
* ``figures/*.png`` -- 1/κ vs 1/L per T, κ∞ vs T, MSD per T, Arrhenius, DOS per T
  (:mod:`mdargy.plots`);
* ``summary.md`` -- one page with the numbers and the figures.

The report is derived data: it is rebuilt (atomically, file by file) each time it is asked for,
from the task directories, which it never modifies. Missing or failed tasks are listed, and
whatever can be computed from the finished ones is. It reads only small files of each task
(:data:`REPORT_INPUT_KEYS`, and for figures :data:`REPORT_FIGURE_INPUTS`), never a trajectory,
so it works as well on tasks restored from committed results
(:mod:`mdargy.campaign.committed`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from mdargy.analysis.conductivity import (ConductivityResult, conductivity_points,
                                          fit_conductivity_arrhenius)
from mdargy.analysis.diffusion import (ARRHENIUS_COLUMNS, DIFFUSION_COLUMNS, DiffusionResult,
                                       arrhenius_row, diffusion_row, fit_arrhenius_per_species,
                                       is_diffusing)
from mdargy.analysis.dos import DOSResult
from mdargy.analysis.greenkubo import GreenKuboResult
from mdargy.analysis.kappa import KAPPA_INF_COLUMNS, extrapolate_kappa_per_T, kappa_inf_row
from mdargy.analysis.msd import MSDResult
from mdargy.analysis.npt import lattice_length_err_A, npt_average
from mdargy.campaign.schema import CampaignSpec, load_campaign
from mdargy.campaign.store import CampaignStore
from mdargy.campaign.tasks import build_tasks, format_T
from mdargy.lattice.phonons import PhononResult
from mdargy.lattice.pipeline import LatticeResult
from mdargy.lattice.wigner import WignerResult
from mdargy.plots.diffusion import plot_arrhenius
from mdargy.plots.dos import plot_dos
from mdargy.plots.greenkubo import plot_green_kubo
from mdargy.plots.ionic import plot_charge_msd, plot_sigma_arrhenius
from mdargy.plots.kappa import (plot_kappa_extrapolation, plot_kappa_methods,
                                plot_kappa_vs_T)
from mdargy.plots.lattice import (plot_dispersion_weight, plot_dispersions, plot_phonon_dos,
                                  plot_spectral_kappa)
from mdargy.plots.msd import plot_msd
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json, atomic_write_text
from mdargy.io.thermo import read_thermo_csv
from mdargy.results import provenance


#: The keys of a finished task's outputs that name (relative to its folder) a file the report
#: reads: the tables and the figures need them. NEMD tasks need none (their numbers are in
#: ``task.json``).
REPORT_INPUT_KEYS = ("gk", "lattice", "conductivity", "ionic", "diffusion", "msd", "dos")
#: Files of a lattice task that only figures read (dispersion, phonon DOS, spectral κ); without
#: them the report draws no such figure and says so.
REPORT_FIGURE_INPUTS = ("lattice/phonons.json", "lattice/wigner.json")
#: Columns of ``cost.csv``.
COST_COLUMNS = ("task", "kind", "T_K", "atoms", "ranks", "attempts", "untimed_attempts", "wall_s",
                "core_h")


def task_cost(task, rec: dict) -> dict:
    """What a finished task cost, from its ``task.json`` record.

    ``wall_s`` sums the wall time of every attempt (a killed attempt's is estimated from the last
    file it wrote, see :mod:`mdargy.campaign.store`); ``core_h`` sums wall time x ranks of each
    attempt / 3600. Records written before attempts were timed give only the finishing attempt's
    wall time (``rec["wall_s"]``); the attempts without a time are counted in
    ``untimed_attempts``. ``ranks`` is that of the finishing attempt.
    """
    attempts = list(rec.get("attempts") or [])
    prov_ranks = ((rec.get("provenance") or {}).get("inputs") or {}).get("ranks")
    last_ranks = (attempts[-1].get("ranks") if attempts else None) or prov_ranks
    wall = core_s = 0.0
    untimed = 0
    for i, a in enumerate(attempts):
        w = a.get("wall_s")
        if w is None and i == len(attempts) - 1:
            w = rec.get("wall_s")
        if w is None:
            untimed += 1
            continue
        wall += float(w)
        core_s += float(w) * float(a.get("ranks") or last_ranks or 1)
    if not attempts and rec.get("wall_s") is not None:
        wall = float(rec["wall_s"])
        core_s = wall * float(last_ranks or 1)
    n_atoms = (rec.get("outputs") or {}).get("n_atoms")
    return {"task": task.id, "kind": task.kind, "T_K": task.T_K,
            "atoms": int(n_atoms) if n_atoms is not None else None,
            "ranks": int(last_ranks) if last_ranks is not None else None,
            "attempts": len(attempts), "untimed_attempts": untimed, "wall_s": wall,
            "core_h": core_s / 3600.0}


@dataclasses.dataclass(frozen=True)
class Report:
    """What :func:`build_report` produced (paths and the headline numbers)."""

    directory: str
    summary_path: str
    json_path: str
    kappa_L: tuple
    kappa_inf: tuple
    diffusion: tuple
    arrhenius: tuple
    dos: tuple
    missing: tuple
    warnings: tuple
    figures: tuple
    run_notes: tuple = ()
    kappa_gk: tuple = ()
    kappa_wigner: tuple = ()
    ionic: tuple = ()
    sigma_arrhenius: dict | None = None
    cost: tuple = ()

    @property
    def total_core_h(self) -> float:
        """Core-hours of the finished tasks (sum of ``cost.csv``)."""
        return float(sum(r["core_h"] for r in self.cost))

    def text_summary(self) -> str:
        lines = []
        for row in self.kappa_inf:
            lines.append(f"kappa_inf({format_T(row['T_K'])} K) = {row['kappa_inf_W_mK']:.3g} ± "
                         f"{row['kappa_inf_err_W_mK']:.2g} W/(m K)  "
                         f"[{row['n_lengths']} lengths, L = {row['lengths_A']} Å]")
            if not row.get("length_dependence_resolved", True):
                lines.append(f"  no length dependence resolved (A = {row['A_AmK_W']:.3g} ± "
                             f"{row['A_err_AmK_W']:.2g} Å m K/W): kappa over these lengths = "
                             f"{row['kappa_mean_W_mK']:.3g} ± {row['kappa_mean_err_W_mK']:.2g} "
                             f"W/(m K) (weighted mean, p = {row['mean_p_value']:.2g})")
        if not self.kappa_inf:
            for row in self.kappa_L:
                lines.append(f"kappa({format_T(row['T_K'])} K, L = {row['length_A']:.4g} Å) = "
                             f"{row['kappa_W_mK']:.3g} ± {row['kappa_err_W_mK']:.2g} W/(m K)")
        for row in self.kappa_gk:
            lines.append(f"kappa_GK({format_T(row['T_K'])} K) = {row['kappa_W_mK']:.3g} ± "
                         f"{row['kappa_err_W_mK']:.2g} W/(m K)  [{row['method']}, "
                         f"{row['duration_ps']:g} ps]")
        for row in self.kappa_wigner:
            lines.append(f"kappa_Wigner({format_T(row['T_K'])} K) = kappa_p {row['kappa_p_W_mK']:.3g}"
                         f" + kappa_c {row['kappa_c_W_mK']:.3g} = {row['kappa_total_W_mK']:.3g} "
                         f"W/(m K)  [mesh {'x'.join(map(str, row['mesh']))}, change from the "
                         f"coarser mesh {_pct(row['mesh_change'])}]")
        for row in self.ionic:
            if row["sigma_S_cm"] is not None and math.isfinite(row["sigma_S_cm"]):
                lines.append(f"sigma_ion({format_T(row['T_K'])} K) = {row['sigma_S_cm']:.3g} ± "
                             f"{row['sigma_err_S_cm']:.2g} S/cm, Haven ratio "
                             f"{row['haven_ratio']:.2g}")
            else:
                lines.append(f"sigma_ion({format_T(row['T_K'])} K): no conductivity "
                             f"({row['sigma_status']})")
        for row in self.diffusion:
            lines.append(f"D_{row['species']}({format_T(row['T_K'])} K) = {row['D_cm2_s']:.3g} ± "
                         f"{row['D_err_cm2_s']:.2g} cm^2/s"
                         + ("  (bounded: no diffusive regime, no D)" if not row["significant"]
                            else ""))
        for row in self.arrhenius:
            lines.append(f"Arrhenius {row['species']}: Ea = {row['Ea_eV']:.3g} ± "
                         f"{row['Ea_err_eV']:.2g} eV, D0 = {row['D0_cm2_s']:.3g} cm^2/s")
        for row in self.dos:
            lines.append(f"DOS({format_T(row['T_K'])} K): {row['n_atoms_total']} atoms, mean "
                         f"frequency {row['mean_freq_THz']:.3g} THz, Cv = "
                         f"{row['Cv_kB_per_atom']:.3g} kB/atom")
        if self.missing:
            lines.append(f"missing tasks (not finished): {', '.join(self.missing)}")
        if self.cost:
            lines.append(f"cost: {self.total_core_h:.3g} core-hours over {len(self.cost)} "
                         "finished tasks (cost.csv)")
        lines.append(f"report: {self.summary_path}")
        return "\n".join(lines)


def _finished(store: CampaignStore, tasks) -> tuple[dict, list]:
    done, missing = {}, []
    for t in tasks:
        rec = store.task_record(t.id)
        if not t.matches(rec):
            missing.append(t.id)
        else:
            done[t.id] = rec
    return done, missing


def _finished_emd(tasks, done: dict, analysis: str):
    """The finished EMD tasks that asked for ``analysis`` (msd, dos, gk, lattice, ionic)."""
    return [t for t in tasks if t.kind == "emd" and t.id in done and t.params.get(analysis)]


def _pct(x) -> str:
    """A fraction as a percentage, or "not computed" for None/NaN."""
    return f"{x:.1%}" if x is not None and math.isfinite(x) else "not computed"


def _fmt(x, digits=4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _md_table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(v) for v in r) + " |")
    return "\n".join(out)


def build_report(campaign, output: str | Path | None = None, figures: bool = True) -> Report:
    """Build the report of a campaign from its finished tasks (see the module docstring).

    Parameters
    ----------
    campaign : path or CampaignSpec
    output : path, optional
        Override of the campaign's output directory.
    figures : bool
        Also draw the PNG figures.

    Raises
    ------
    InputError
        The campaign has never been run (no index) or has no finished task.
    """
    spec = campaign if isinstance(campaign, CampaignSpec) else load_campaign(campaign, output=output)
    tasks = build_tasks(spec)
    store = CampaignStore(spec.output)
    if not store.index_path.exists():
        raise InputError(f"no campaign results in {spec.output}: run `mdargy campaign run "
                         f"{spec.path}` first", spec.path)
    done, missing = _finished(store, tasks)
    if not done:
        raise InputError(f"no finished task in {spec.output} yet ({len(missing)} pending); "
                         "nothing to report", spec.path)
    rdir = store.report_dir
    fdir = rdir / "figures"
    fdir.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    run_notes: list[str] = []  # the drivers' notes on each run (informational)
    figs: list[str] = []

    # ------------------------------------------------------------------ NEMD
    kappa_L = []
    for t in tasks:
        if t.kind != "nemd" or t.id not in done:
            continue
        o = done[t.id]["outputs"]
        npt = o.get("npt_lattice") or {}
        a_npt, a_npt_err = _npt_lattice_constant(
            npt, store.final_path(t.id) / "npt" / "thermo.csv")
        kappa_L.append({"T_K": t.T_K, "length_cells": t.params["length_cells"],
                        "length_A": o["length_A"], "kappa_W_mK": o["kappa_W_mK"],
                        "kappa_err_W_mK": o["kappa_err_W_mK"], "T_mean_K": o.get("T_mean_K"),
                        "task": t.id, "warnings": list(o.get("warnings", [])),
                        "npt_lattice_scale": npt.get("lattice_scale"),
                        "npt_a_A": a_npt, "npt_a_err_A": a_npt_err})
        for w in o.get("warnings", []):
            run_notes.append(f"{t.id}: {w}")
    kappa_L.sort(key=lambda r: (r["T_K"], r["length_A"]))
    kappa_L_columns = ("T_K", "length_cells", "length_A", "kappa_W_mK", "kappa_err_W_mK",
                       "T_mean_K", "npt_a_A", "npt_a_err_A", "task")
    atomic_write_csv(rdir / "kappa_L.csv", list(kappa_L_columns),
                     [[r[k] for k in kappa_L_columns] for r in kappa_L])
    kappa_inf, extrap = [], []
    if kappa_L:
        per_T = extrapolate_kappa_per_T(
            [r["T_K"] for r in kappa_L], [r["length_A"] for r in kappa_L],
            [r["kappa_W_mK"] for r in kappa_L], [r["kappa_err_W_mK"] for r in kappa_L])
        for T, _, why in per_T.skipped:
            warnings.append(f"T = {format_T(T)} K: no extrapolation: {why}")
        for ex in per_T.fits:
            T = ex.T_K
            extrap.append(ex)
            for w in ex.warnings:
                warnings.append(f"kappa_inf at {format_T(T)} K: {w}")
            kappa_inf.append({"T_K": T, "kappa_inf_W_mK": ex.kappa_inf_W_mK,
                              "kappa_inf_err_W_mK": ex.kappa_inf_err_W_mK,
                              "mfp_eff_A": ex.mfp_eff_A, "chi2_red": ex.chi2_red,
                              "n_lengths": len(ex.length_A),
                              "lengths_A": [round(float(x), 3) for x in ex.length_A],
                              "kappa_max_fraction": ex.kappa_max_fraction,
                              "A_AmK_W": ex.A_AmK_W, "A_err_AmK_W": ex.A_err_AmK_W,
                              "kappa_mean_W_mK": ex.kappa_mean_W_mK,
                              "kappa_mean_err_W_mK": ex.kappa_mean_err_W_mK,
                              "mean_p_value": ex.mean_p_value,
                              "length_dependence_resolved": ex.length_dependence_resolved,
                              "warnings": list(ex.warnings)})
            atomic_write_json(rdir / f"kappa_extrapolation_T{format_T(T)}K.json", ex.to_dict())
            if figures:
                p = fdir / f"kappa_L_T{format_T(T)}K.png"
                plot_kappa_extrapolation(ex, path=p)
                figs.append(str(p))
        atomic_write_csv(rdir / "kappa_inf.csv", KAPPA_INF_COLUMNS,
                         [kappa_inf_row(ex) for ex in per_T.fits])
        if figures and extrap:
            p = fdir / "kappa_inf_vs_T.png"
            plot_kappa_vs_T(extrap, path=p)
            figs.append(str(p))

    # ------------------------------------------------------------------ EMD: Green-Kubo

    kappa_gk = []
    for t in _finished_emd(tasks, done, "gk"):
        o = done[t.id]["outputs"]
        g = GreenKuboResult.from_json(store.final_path(t.id) / o["gk"])
        kappa_gk.append({"T_K": t.T_K, "kappa_W_mK": g.kappa_W_mK,
                         "kappa_err_W_mK": g.kappa_err_W_mK, "method": g.method,
                         "fstar_THz": g.fstar_THz, "duration_ps": g.duration_ps,
                         "T_mean_K": g.temperature_K, "task": t.id, "flags": list(g.flags)})
        for f in g.flags:
            warnings.append(f"Green-Kubo at {format_T(t.T_K)} K: {f}")
        if figures:
            p = fdir / f"gk_T{format_T(t.T_K)}K.png"
            plot_green_kubo(g, path=p)
            figs.append(str(p))
    kappa_gk.sort(key=lambda r: r["T_K"])

    # ------------------------------------------------------------------ lattice dynamics
    kappa_wigner, phonon_sets = [], []
    for t in _finished_emd(tasks, done, "lattice"):

        tdir = store.final_path(t.id)
        if not done[t.id]["outputs"].get("lattice"):
            warnings.append(f"no Wigner kappa at {format_T(t.T_K)} K: "
                            f"{done[t.id]['outputs'].get('lattice_refused', 'not computed')}")
            continue
        lat = LatticeResult.from_json(tdir / done[t.id]["outputs"]["lattice"])
        mesh_change = lat.mesh_change  # NaN when no coarser mesh was computed
        ldir = tdir / "lattice"
        row = {"T_K": t.T_K, "kappa_p_W_mK": lat.kappa_p_W_mK, "kappa_c_W_mK": lat.kappa_c_W_mK,
               "kappa_total_W_mK": lat.kappa_total_W_mK, "mesh": list(lat.mesh),
               "mesh_change": mesh_change, "classical": lat.classical,
               "fit_rmse_eV_A": lat.fit_rmse_eV_A, "fit_r2": lat.fit_r2,
               "fit_cv_rmse_eV_A": lat.fit_cv_rmse_eV_A, "n_snapshots": lat.n_snapshots,
               "n_imaginary_modes": lat.n_imaginary_modes, "min_freq_THz": lat.min_freq_THz,
               "task": t.id}
        kappa_wigner.append(row)
        if math.isfinite(mesh_change) and abs(mesh_change) > 0.05:
            warnings.append(f"Wigner kappa at {format_T(t.T_K)} K changes by "
                            f"{mesh_change:.0%} from the coarser q-mesh: not converged")
        elif not math.isfinite(mesh_change):
            warnings.append(f"Wigner kappa at {format_T(t.T_K)} K: no coarser q-mesh computed, "
                            "so its mesh convergence is unknown")
        if lat.n_imaginary_modes:
            warnings.append(f"phonons at {format_T(t.T_K)} K: {lat.n_imaginary_modes} imaginary "
                            f"mode(s), lowest {lat.min_freq_THz:.3g} THz")
        if figures:
            for name in REPORT_FIGURE_INPUTS:
                if not (tdir / name).is_file():
                    warnings.append(f"no figure from {t.id}/{name}: the file is not in the task "
                                    "folder (left out of committed results?)")
            if (ldir / "phonons.json").is_file():
                ph = PhononResult.from_json(ldir / "phonons.json")
                phonon_sets.append((t.T_K, ph))
                weight_el = "Cu" if "Cu" in ph.band_weights else next(iter(ph.band_weights))
                p = fdir / f"dispersion_T{format_T(t.T_K)}K.png"
                plot_dispersion_weight(ph, element=weight_el, path=p)
                figs.append(str(p))
                p = fdir / f"phonon_dos_T{format_T(t.T_K)}K.png"
                plot_phonon_dos(ph, path=p)
                figs.append(str(p))
            if (ldir / "wigner.json").is_file():
                p = fdir / f"spectral_kappa_T{format_T(t.T_K)}K.png"
                plot_spectral_kappa(WignerResult.from_json(ldir / "wigner.json"), path=p)
                figs.append(str(p))
    kappa_wigner.sort(key=lambda r: r["T_K"])
    if kappa_wigner:
        cols = ["T_K", "kappa_p_W_mK", "kappa_c_W_mK", "kappa_total_W_mK", "mesh_change",
                "fit_rmse_eV_A", "fit_r2", "n_imaginary_modes", "task"]
        atomic_write_csv(rdir / "kappa_wigner.csv", cols,
                         [[r[k] for k in cols] for r in kappa_wigner])
    if figures and len(phonon_sets) > 1:
        phonon_sets.sort(key=lambda x: x[0])
        p = fdir / "dispersions_vs_T.png"
        plot_dispersions([ph for _, ph in phonon_sets], path=p,
                         labels=[f"{format_T(T)} K" for T, _ in phonon_sets])
        figs.append(str(p))
    if kappa_gk:
        atomic_write_csv(rdir / "kappa_gk.csv",
                         ["T_K", "kappa_W_mK", "kappa_err_W_mK", "method", "fstar_THz",
                          "duration_ps", "task"],
                         [[r[k] for k in ("T_K", "kappa_W_mK", "kappa_err_W_mK", "method",
                                          "fstar_THz", "duration_ps", "task")]
                          for r in kappa_gk])
    if figures and (kappa_gk or kappa_inf or kappa_wigner):
        series = {}
        if kappa_inf:
            series["NEMD κ∞"] = [(r["T_K"], r["kappa_inf_W_mK"], r["kappa_inf_err_W_mK"])
                                 for r in kappa_inf]
        if kappa_gk:
            series["Green–Kubo"] = [(r["T_K"], r["kappa_W_mK"], r["kappa_err_W_mK"])
                                    for r in kappa_gk]
        if kappa_wigner:
            # phono3py's kappa has no statistical error: drawn without an error bar
            series["Wigner κ_p + κ_c"] = [(r["T_K"], r["kappa_total_W_mK"], 0.0)
                                          for r in kappa_wigner]
            series["Wigner κ_p"] = [(r["T_K"], r["kappa_p_W_mK"], 0.0) for r in kappa_wigner]
        band = None
        if spec.report.get("kappa_band_W_mK"):
            band = (tuple(spec.report["kappa_band_T_K"]), tuple(spec.report["kappa_band_W_mK"]),
                    spec.report.get("kappa_band_label") or "measured")
        if len(series) > 1 or band is not None:
            p = fdir / "kappa_methods_vs_T.png"
            plot_kappa_methods(series, band=band, path=p)
            figs.append(str(p))

    # ------------------------------------------------------------------ ionic transport

    ionic, conds = [], []
    for t in _finished_emd(tasks, done, "ionic"):
        tdir = store.final_path(t.id)
        o = done[t.id]["outputs"]
        c = ConductivityResult.from_json(tdir / o["conductivity"])
        conds.append(c)
        summ = json.loads((tdir / o["ionic"]).read_text())
        site = summ.get("sites") or {}
        ionic.append({"T_K": t.T_K, "T_mean_K": c.T_K, "sigma_S_cm": c.sigma_S_cm,
                      "sigma_err_S_cm": c.sigma_err_S_cm, "sigma_status": c.sigma_status,
                      "sigma_NE_S_cm": c.sigma_NE_S_cm, "haven_ratio": c.haven_ratio,
                      "haven_ratio_err": c.haven_ratio_err,
                      "jump_rate_per_ion_ps": site.get("jump_rate_total_per_ion_ps"),
                      "n_jumps": site.get("n_jumps"),
                      "site_types": site.get("site_types"),
                      "ion_fraction": site.get("ion_fraction"),
                      "path_share": site.get("path_share"),
                      "density_cube": o.get("density_cube"), "task": t.id})
        for w in c.warnings:
            warnings.append(f"sigma_ion at {format_T(t.T_K)} K: {w}")
        if figures:
            p = fdir / f"charge_msd_T{format_T(t.T_K)}K.png"
            plot_charge_msd(c, path=p)
            figs.append(str(p))
    ionic.sort(key=lambda r: r["T_K"])
    sigma_fit = None
    if ionic:
        cols = ["T_K", "T_mean_K", "sigma_S_cm", "sigma_err_S_cm", "sigma_status",
                "sigma_NE_S_cm", "haven_ratio", "haven_ratio_err", "jump_rate_per_ion_ps",
                "n_jumps", "task"]
        atomic_write_csv(rdir / "ionic.csv", cols, [[r[k] for k in cols] for r in ionic])
        T, sg, se, left = conductivity_points(conds)
        if len(np.unique(T)) >= 2:
            fit = fit_conductivity_arrhenius(T, sg, se)
            sigma_fit = {"Ea_eV": fit.Ea_eV, "Ea_err_eV": fit.Ea_err_eV,
                         "prefactor_S_K_cm": fit.D0_cm2_s, "chi2_red": fit.chi2_red,
                         "T_K": [float(x) for x in T], "left_out_T_K": list(left),
                         "warnings": list(fit.warnings)}
            atomic_write_json(rdir / "sigma_arrhenius.json", sigma_fit)
            for w in fit.warnings:
                warnings.append(f"Arrhenius sigma_ion T: {w}")
        else:
            fit = None
        if figures and len(T):
            p = fdir / "sigma_arrhenius.png"
            plot_sigma_arrhenius(T, sg, se, fit=fit, bounded_T_K=left, path=p)
            figs.append(str(p))

    # ------------------------------------------------------------------ EMD: MSD and D

    diffusion, diffusion_rows = [], []
    for t in _finished_emd(tasks, done, "msd"):
        tdir = store.final_path(t.id)
        o = done[t.id]["outputs"]
        dpath = tdir / o["diffusion"]
        for d in json.loads(dpath.read_text())["diffusion"]:
            r = DiffusionResult.from_dict(d)
            significant = is_diffusing(d)  # bounded species: no D, no Arrhenius fit
            T_mean = o.get("T_mean_K")
            diffusion.append({"T_K": t.T_K, "T_mean_K": T_mean,
                              "species": r.species, "n_atoms": r.n_atoms,
                              "D_cm2_s": r.D_cm2_s, "D_err_cm2_s": r.D_err_cm2_s,
                              "window_ps": list(r.window_ps), "loglog_slope": r.loglog_slope,
                              "significant": bool(significant), "task": t.id,
                              "warnings": list(r.warnings)})
            diffusion_rows.append(diffusion_row(r, T_K=t.T_K, T_mean_K=T_mean))
            for w in r.warnings:
                warnings.append(f"D_{r.species} at {format_T(t.T_K)} K: {w}")
        if figures and o.get("msd"):
            msd = MSDResult.from_json(tdir / o["msd"])
            diffs = [DiffusionResult.from_dict(d)
                     for d in json.loads(dpath.read_text())["diffusion"]]
            p = fdir / f"msd_T{format_T(t.T_K)}K.png"
            plot_msd(msd, diffs, path=p)
            figs.append(str(p))
    diffusion.sort(key=lambda r: (r["species"], r["T_K"]))
    diffusion_rows.sort(key=lambda r: (r[2], r[0]))
    atomic_write_csv(rdir / "diffusion.csv", DIFFUSION_COLUMNS, diffusion_rows)
    # the Arrhenius law is fitted at the temperatures the runs had (an NVE production drifts
    # from the set one: Cu7PS6 set to 450 K ran at 416 K), the set one where none is recorded
    per_species = fit_arrhenius_per_species(
        [r["T_mean_K"] or r["T_K"] for r in diffusion], [r["species"] for r in diffusion],
        [r["D_cm2_s"] for r in diffusion], [r["D_err_cm2_s"] for r in diffusion],
        [r["significant"] for r in diffusion])
    arr_results = list(per_species.fits)
    for sp, why in per_species.failed.items():
        warnings.append(f"Arrhenius fit of {sp}: {why}")
    arrhenius = []
    for a in arr_results:
        arrhenius.append({"species": a.species, "Ea_eV": a.Ea_eV, "Ea_err_eV": a.Ea_err_eV,
                          "D0_cm2_s": a.D0_cm2_s, "D0_err_cm2_s": a.D0_err_cm2_s,
                          "chi2_red": a.chi2_red, "T_K": [float(x) for x in a.T_K],
                          "warnings": list(a.warnings)})
        for w in a.warnings:
            warnings.append(f"Arrhenius {a.species}: {w}")
    atomic_write_csv(rdir / "arrhenius.csv", ARRHENIUS_COLUMNS,
                     [arrhenius_row(a) for a in arr_results])
    if figures and arr_results:
        p = fdir / "arrhenius.png"
        plot_arrhenius(arr_results, path=p)
        figs.append(str(p))

    # ------------------------------------------------------------------ EMD: DOS

    dos_rows = []
    for t in _finished_emd(tasks, done, "dos"):
        tdir = store.final_path(t.id)
        o = done[t.id]["outputs"]
        dres = DOSResult.from_json(tdir / o["dos"])
        f = np.asarray(dres.freq_THz, float)
        g = np.asarray(dres.dos_per_THz, float)
        parts = np.asarray(dres.dos_partial_per_THz, float).reshape(len(dres.elements), -1)
        name = f"dos_T{format_T(t.T_K)}K.csv"
        header = ["freq_THz", "freq_meV", "dos_total_per_THz"] + [
            f"dos_{e}_per_THz" for e in dres.elements]
        atomic_write_csv(rdir / name, header,
                         np.column_stack([f, np.asarray(dres.freq_meV, float), g, parts.T]).tolist())
        norm = float(np.trapezoid(g, f)) if hasattr(np, "trapezoid") else float(np.trapz(g, f))
        mean_f = float(np.trapezoid(g * f, f) / norm) if hasattr(np, "trapezoid") else float(
            np.trapz(g * f, f) / norm)
        dos_rows.append({"T_K": t.T_K, "csv": name, "elements": list(dres.elements),
                         "n_atoms": list(dres.n_atoms), "n_atoms_total": int(sum(dres.n_atoms)),
                         "integral": norm, "mean_freq_THz": mean_f,
                         "resolution_THz": dres.resolution_THz, "T_kinetic_K": dres.T_K,
                         "Cv_kB_per_atom": dres.Cv_kB_per_atom, "S_kB_per_atom": dres.S_kB_per_atom,
                         "task": t.id, "warnings": list(dres.warnings)})
        for w in dres.warnings:
            warnings.append(f"DOS at {format_T(t.T_K)} K: {w}")
        if figures:
            p = fdir / f"dos_T{format_T(t.T_K)}K.png"
            plot_dos(dres, path=p, mode="stacked", unit="THz")
            figs.append(str(p))

    # ------------------------------------------------------------------ cost
    cost = [task_cost(t, done[t.id]) for t in sorted(
        (t for t in tasks if t.id in done), key=lambda t: (t.kind, t.T_K, t.id))]
    atomic_write_csv(rdir / "cost.csv", COST_COLUMNS,
                     [[r[k] for k in COST_COLUMNS] for r in cost])

    # ------------------------------------------------------------------ outputs
    rep = Report(
        directory=str(rdir), summary_path=str(rdir / "summary.md"),
        json_path=str(rdir / "report.json"), kappa_L=tuple(kappa_L), kappa_inf=tuple(kappa_inf),
        diffusion=tuple(diffusion), arrhenius=tuple(arrhenius), dos=tuple(dos_rows),
        missing=tuple(missing), warnings=tuple(warnings), figures=tuple(figs),
        run_notes=tuple(run_notes), kappa_gk=tuple(kappa_gk), kappa_wigner=tuple(kappa_wigner),
        ionic=tuple(ionic), sigma_arrhenius=sigma_fit, cost=tuple(cost),
    )
    index = json.loads(store.index_path.read_text())
    atomic_write_json(rdir / "report.json", {
        "campaign": spec.name, "description": spec.description,
        "kappa_L": kappa_L, "kappa_inf": kappa_inf, "kappa_gk": kappa_gk,
        "kappa_wigner": kappa_wigner, "ionic": ionic, "sigma_arrhenius": sigma_fit,
        "diffusion": diffusion,
        "arrhenius": arrhenius, "dos": dos_rows, "missing_tasks": missing,
        "cost": cost, "total_core_h": rep.total_core_h,
        "task_status": {tid: e.get("status") for tid, e in index.get("tasks", {}).items()},
        "warnings": warnings, "run_notes": run_notes, "figures": [str(Path(p).relative_to(rdir)) for p in figs],
        "approximations": _approximations(spec),
        "provenance": provenance(campaign=spec.name, campaign_file=spec.path,
                                 campaign_sha256=spec.raw_sha256, output=spec.output),
    })
    atomic_write_text(rdir / "summary.md", _summary_markdown(spec, rep, index))
    return rep


def _npt_lattice_constant(npt: dict, thermo_csv: Path):
    """First cell length of a NEMD task's NPT-scaled unit cell (the lattice constant of a cubic
    cell) and its standard error, or (None, None) without an NPT stage.

    The error is the recorded one; records made before the errors came from blocks hold none,
    and theirs is computed from the NPT run's thermo rows when they are there.
    """
    a = (npt.get("cell_lengths_A") or [None])[0]
    if a is None:
        return None, None
    recorded = (npt.get("cell_lengths_err_A") or [None])[0]
    if recorded is None and thermo_csv.is_file():
        th = read_thermo_csv(thermo_csv, stage="equilibration")
        return a, lattice_length_err_A(a, npt_average(th["vol_A3"], th["press_bar"]))
    return a, recorded


def _approximations(spec: CampaignSpec) -> list[str]:
    out = []
    if spec.nemd is not None:
        out.append("kappa(L): each NEMD value is a block average after the transient; its σ is "
                   "the standard error over independent block groups (statistical only).")
        if spec.nemd.npt_ps > 0:
            out.append(f"NEMD bars: built from the unit cell scaled (isotropically) to the mean "
                       f"volume of a {spec.nemd.npt_ps:g} ps NPT run at {spec.nemd.pressure_bar:g} "
                       "bar and the same temperature (npt_lattice.json of each task); a and σ_a "
                       "are the mean over its second half and the error from 5 blocks of it: "
                       "a within-run error, which a short NPT run can understate (compare "
                       "independent runs).")
        else:
            out.append("NEMD bars: built at the structure's own lattice (npt_ps = 0): at finite "
                       "temperature they are under pressure (see their thermo.csv).")
        out.append("kappa_inf: linear 1/kappa = 1/kappa_inf + A/L fit (Schelling et al. 2002); "
                   "σ is first-order propagation of the intercept's error; the linear form "
                   "underestimates kappa_inf when L is not long compared with the phonon mean "
                   "free paths (Sellan et al. 2010).")
    if spec.ionic is not None:
        out.append("sigma_ion: generalised least-squares Einstein fit of the charge (collective) "
                   "MSD with formal charges; Nernst-Einstein from the tracer D of each species; "
                   "Haven ratio = NE / full; sites by nearest reference site with a core radius, "
                   "jumps between site types; density maps folded into the reference cell and "
                   "averaged over its symmetry (CUBE files in the task folders).")
    if spec.lattice is not None:
        out.append("Wigner kappa: effective (temperature-dependent) force constants fitted by "
                   "hiPhive to LAMMPS forces of MD snapshots (Hellman et al., PRB 2013; Eriksson "
                   "et al., Adv. Theory Simul. 2019); kappa_p in the relaxation-time "
                   "approximation and kappa_c from the Wigner formulation (Simoncelli, Marzari & "
                   "Mauri, Nat. Phys. 2019) by phono3py; third-order anharmonicity only; "
                   + ("classical occupations" if spec.lattice.classical else
                      "quantum (Bose-Einstein) occupations") + "; no error bar: the q-mesh "
                   "change is the convergence check.")
    if spec.emd is not None:
        out.append("D: Einstein fit of the MSD in the diffusive window; σ from block averaging "
                   "over independent segments.")
        out.append("DOS: Fourier transform of the mass-weighted VACF with a lag window; "
                   "frequency resolution given per temperature; classical dynamics.")
        if spec.emd.gk_temperatures_K:
            out.append("kappa_GK: Green-Kubo integral of the heat current (LAMMPS compute "
                       "heat/flux with the centroid per-atom virial; Fan et al., PRB 2015) by the "
                       "cepstral method through sportran (Ercole, Marcolongo & Baroni, Sci. Rep. "
                       "2017), with the mass fluxes decorrelated when several species are present "
                       "(Bertossa, Grasselli & Baroni, PRL 2019); σ is statistical; classical "
                       "dynamics in one finite cell.")
    return out


def _summary_markdown(spec: CampaignSpec, rep: Report, index: dict) -> str:
    rdir = Path(rep.directory)

    def img(path, alt):
        return f"![{alt}]({Path(path).relative_to(rdir).as_posix()})"

    L = [f"# Campaign `{spec.name}`", ""]
    if spec.description:
        L += [spec.description, ""]
    counts = index.get("counts", {})
    L += [f"Campaign file: `{spec.path}` (sha256 `{spec.raw_sha256[:12]}`)  ",
          f"Output: `{spec.output}`  ",
          "Tasks: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + "  ",
          f"Cost: {rep.total_core_h:.3g} core-hours over {len(rep.cost)} finished tasks "
          "(wall time × MPI ranks of every attempt; per task in `cost.csv`)  ",
          f"Report built: {provenance()['created_utc']}", ""]
    if rep.missing:
        L += [f"**Not finished:** {', '.join(rep.missing)} — the numbers below use the finished "
              "tasks only.", ""]
    if rep.kappa_L:
        L += ["## Thermal conductivity (NEMD)", "", "### κ(L) at each temperature", ""]
        with_a = any(r.get("npt_a_A") is not None for r in rep.kappa_L)
        L.append(_md_table(["T (K)", "L (cells)", "L (Å)", "κ (W/m/K)", "σ", "⟨T⟩ (K)"]
                           + (["a after NPT (Å)", "σ_a (Å)"] if with_a else []),
                           [[format_T(r["T_K"]), r["length_cells"], _fmt(r["length_A"]),
                             _fmt(r["kappa_W_mK"], 3), _fmt(r["kappa_err_W_mK"], 2),
                             _fmt(r["T_mean_K"])]
                            + ([_fmt(r.get("npt_a_A"), 6), _fmt(r.get("npt_a_err_A"), 2)]
                               if with_a else []) for r in rep.kappa_L]))
        L.append("")
        if rep.kappa_inf:
            L += ["### κ∞(T): 1/κ = 1/κ∞ + A/L", ""]
            L.append(_md_table(["T (K)", "κ∞ (W/m/K)", "σ", "Λ_eff (Å)", "χ²_red", "lengths",
                                "A (Å m K/W)", "σ_A", "κ̄ over L (W/m/K)", "σ", "p (κ̄)"],
                               [[format_T(r["T_K"]), _fmt(r["kappa_inf_W_mK"], 3),
                                 _fmt(r["kappa_inf_err_W_mK"], 2), _fmt(r["mfp_eff_A"], 3),
                                 _fmt(r["chi2_red"], 3), r["n_lengths"],
                                 _fmt(r.get("A_AmK_W"), 3), _fmt(r.get("A_err_AmK_W"), 2),
                                 _fmt(r.get("kappa_mean_W_mK"), 3),
                                 _fmt(r.get("kappa_mean_err_W_mK"), 2),
                                 _fmt(r.get("mean_p_value"), 2)] for r in rep.kappa_inf]))
            L += ["", "κ̄ is the weighted mean of κ(L): one length-independent κ. Where the slope "
                  "A is within 2σ of zero (no length dependence resolved) and κ̄ fits (p not "
                  "small), κ̄ is the better estimate of κ over the lengths simulated; it is a "
                  "lower bound of κ∞ if longer bars would add phonons.", ""]
        for p in rep.figures:
            if Path(p).name.startswith("kappa") and "methods" not in Path(p).name:
                L += [img(p, Path(p).stem), ""]
    if rep.kappa_gk:
        L += ["## Thermal conductivity (Green–Kubo, EMD heat current)", ""]
        L.append(_md_table(["T (K)", "κ_GK (W/m/K)", "σ", "analysis", "f* (THz)", "run (ps)"],
                           [[format_T(r["T_K"]), _fmt(r["kappa_W_mK"], 3),
                             _fmt(r["kappa_err_W_mK"], 2), r["method"], _fmt(r["fstar_THz"], 3),
                             _fmt(r["duration_ps"])] for r in rep.kappa_gk]))
        L.append("")
        for p in rep.figures:
            if Path(p).name.startswith("gk_"):
                L += [img(p, Path(p).stem), ""]
    if rep.kappa_wigner:
        L += ["## Thermal conductivity (lattice dynamics, Wigner κ = κ_p + κ_c)", ""]
        L.append(_md_table(["T (K)", "κ_p (W/m/K)", "κ_c (W/m/K)", "κ_p + κ_c", "q-mesh",
                            "change from coarser mesh", "fit RMSE (eV/Å)", "R²",
                            "imaginary modes"],
                           [[format_T(r["T_K"]), _fmt(r["kappa_p_W_mK"], 3),
                             _fmt(r["kappa_c_W_mK"], 3), _fmt(r["kappa_total_W_mK"], 3),
                             "×".join(map(str, r["mesh"])), _pct(r["mesh_change"]),
                             _fmt(r["fit_rmse_eV_A"], 3), _fmt(r["fit_r2"], 4),
                             r["n_imaginary_modes"]] for r in rep.kappa_wigner]))
        L.append("")
        for p in rep.figures:
            if Path(p).name.startswith(("dispersion", "phonon_dos", "spectral_kappa")):
                L += [img(p, Path(p).stem), ""]
    if rep.ionic:
        L += ["## Ionic transport (charge MSD, sites and jumps)", ""]
        L.append(_md_table(["T (K)", "σ_ion (S/cm)", "σ", "Nernst–Einstein (S/cm)",
                            "Haven ratio", "jumps per ion per ps", "density map"],
                           [[format_T(r["T_K"]), _fmt(r["sigma_S_cm"], 3),
                             _fmt(r["sigma_err_S_cm"], 2), _fmt(r["sigma_NE_S_cm"], 3),
                             _fmt(r["haven_ratio"], 2), _fmt(r["jump_rate_per_ion_ps"], 3),
                             f"`{r['task']}/{r['density_cube']}`" if r["density_cube"] else "–"]
                            for r in rep.ionic]))
        L.append("")
        if rep.sigma_arrhenius:
            a = rep.sigma_arrhenius
            temps = ", ".join(format_T(x) for x in a["T_K"])
            L += [f"σ_ion T = A exp(−Ea/kT): Ea = {a['Ea_eV']:.3g} ± {a['Ea_err_eV']:.2g} eV, "
                  f"χ²_red = {a['chi2_red']:.3g} (temperatures {temps} K)", ""]
        for p in rep.figures:
            if Path(p).name.startswith(("sigma_arrhenius", "charge_msd")):
                L += [img(p, Path(p).stem), ""]
    if rep.diffusion:
        L += ["## Diffusion (EMD, MSD)", ""]
        L.append(_md_table(["T (K)", "mean T (K)", "species", "D (cm²/s)", "σ",
                            "fit window (ps)", "slope", "significant"],
                           [[format_T(r["T_K"]), _fmt(r["T_mean_K"], 4), r["species"],
                             _fmt(r["D_cm2_s"], 3),
                             _fmt(r["D_err_cm2_s"], 2),
                             f"{r['window_ps'][0]:.3g}–{r['window_ps'][1]:.3g}",
                             _fmt(r["loglog_slope"], 3), "yes" if r["significant"] else "no"]
                            for r in rep.diffusion]))
        L.append("")
        if rep.arrhenius:
            L += ["### Arrhenius fits D = D0 exp(−Ea/kT) (at the runs' mean temperatures)", ""]
            L.append(_md_table(["species", "Ea (eV)", "σ", "D0 (cm²/s)", "χ²_red", "T (K)"],
                               [[r["species"], _fmt(r["Ea_eV"], 3), _fmt(r["Ea_err_eV"], 2),
                                 _fmt(r["D0_cm2_s"], 3), _fmt(r["chi2_red"], 3),
                                 ", ".join(format_T(t) for t in r["T_K"])] for r in rep.arrhenius]))
            L.append("")
        else:
            L += ["No Arrhenius fit: it needs significant diffusion at two or more temperatures.", ""]
        for p in rep.figures:
            if Path(p).name.startswith(("msd", "arrhenius")):
                L += [img(p, Path(p).stem), ""]
    if rep.dos:
        L += ["## Phonon density of states (EMD, VACF)", ""]
        L.append(_md_table(["T (K)", "atoms", "elements", "∫g dν", "mean ν (THz)", "Δν (THz)",
                            "Cv (kB/atom)", "table"],
                           [[format_T(r["T_K"]), r["n_atoms_total"], ", ".join(r["elements"]),
                             _fmt(r["integral"]), _fmt(r["mean_freq_THz"], 3),
                             _fmt(r["resolution_THz"], 2), _fmt(r["Cv_kB_per_atom"], 3),
                             f"[{r['csv']}]({r['csv']})"] for r in rep.dos]))
        L.append("")
        for p in rep.figures:
            if Path(p).name.startswith("dos"):
                L += [img(p, Path(p).stem), ""]
    for p in rep.figures:
        if Path(p).name.startswith("kappa_methods"):
            L += ["## κ(T) by every method", "", img(p, Path(p).stem), ""]
    L += ["## How the numbers were obtained", ""]
    L += [f"- {a}" for a in _approximations(spec)]
    L.append("")
    if rep.warnings:
        L += ["## Warnings", ""] + [f"- {w}" for w in rep.warnings] + [""]
    if rep.run_notes:
        L += ["## Notes from the NEMD runs", ""] + [f"- {w}" for w in rep.run_notes] + [""]
    L += ["Tables: `kappa_L.csv`, `kappa_inf.csv`, `kappa_gk.csv`, `kappa_wigner.csv`, "
          "`ionic.csv`, `diffusion.csv`, `arrhenius.csv`, "
          "`dos_T*.csv`, `cost.csv`; everything in `report.json`.", ""]
    return "\n".join(L)
