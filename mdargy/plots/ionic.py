"""Ionic-transport figures: charge MSD with the σ_ion fit, density slices, σ_ion(T) Arrhenius."""

from __future__ import annotations

import numpy as np

from mdargy.analysis.conductivity import sigma_factor_S_cm
from mdargy.plots import new_figure, save_figure


def _warning_box(ax, lines):
    if lines:
        ax.text(0.02, 0.98, "WARNING\n" + "\n".join(lines), transform=ax.transAxes, va="top",
                ha="left", fontsize=7, color="darkred", wrap=True,
                bbox=dict(boxstyle="round", fc="mistyrose", ec="darkred", alpha=0.9))


def plot_charge_msd(cond, path=None, ax=None):
    """Charge MSD ⟨|ΔX|²⟩ (e² Å²) vs lag (ps), log-log, with the σ_ion fit window and line."""
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    t = np.asarray(cond.time_ps)
    y = np.asarray(cond.charge_msd_e2A2)
    ok = (t > 0) & (y > 0)
    ax.loglog(t[ok], y[ok], lw=1.2, label="charge MSD ⟨|Σ q_i Δr_i|²⟩")
    t0, t1 = cond.window_ps
    ax.axvspan(t0, t1, alpha=0.08)
    warn = []
    if cond.sigma_status == "diffusive":
        slope = cond.sigma_S_cm / sigma_factor_S_cm(cond.volume_A3, cond.T_K)
        tt = np.geomspace(max(t0, t[ok][0]), t1, 40)
        ax.loglog(tt, slope * tt + cond.intercept_e2A2, "k--", lw=1.2,
                  label=f"σ_ion = {cond.sigma_S_cm:.3g} ± {cond.sigma_err_S_cm:.2g} S/cm")
    else:
        warn.append("no ionic conductivity: the charge MSD has no diffusive regime")
    warn += [w for w in cond.warnings if "bounded" in w or "noisy" in w]
    _warning_box(ax, warn)
    ax.set_xlabel("lag time t (ps)")
    ax.set_ylabel("charge MSD (e² Å²)")
    ax.set_title(f"Charge MSD at {cond.T_K:.0f} K; Haven ratio "
                 + (f"{cond.haven_ratio:.2f} ± {cond.haven_ratio_err:.2f}"
                    if np.isfinite(cond.haven_ratio) else "–"))
    ax.legend(fontsize=8, loc="lower right")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_density_slice(sl, path=None, ax=None, title=None):
    """A planar density slice (:class:`mdargy.analysis.density.PlaneSlice`), Å axes."""
    if ax is None:
        fig, ax = new_figure(figsize=(5.2, 4.4))
    else:
        fig = ax.figure
    v = np.asarray(sl.values_per_A3)
    im = ax.imshow(v.T, origin="lower", cmap="viridis",
                   extent=(sl.s_A[0], sl.s_A[-1], sl.t_A[0], sl.t_A[-1]))
    fig.colorbar(im, ax=ax, label="number density (1/Å³)")
    ax.set_xlabel("in-plane u (Å)")
    ax.set_ylabel("in-plane v (Å)")
    h = "".join(str(x) for x in sl.hkl)
    ax.set_title(title or f"({h}) plane, offset {sl.offset:g}")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_sigma_arrhenius(T_K, sigma_S_cm, sigma_err_S_cm, fit=None, bounded_T_K=(), path=None,
                         ax=None):
    """ln(σT) vs 1000/T with the fitted law; temperatures without σ listed as a warning."""
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    T = np.asarray(T_K, float)
    s = np.asarray(sigma_S_cm, float)
    e = np.asarray(sigma_err_S_cm, float)
    ax.errorbar(1000 / T, np.log(s * T), yerr=e / s, fmt="o", capsize=2, label="σ_ion T")
    if fit is not None:
        xx = np.linspace((1000 / T).min(), (1000 / T).max(), 40)
        ax.plot(xx, np.log(fit.D_at(1000 / xx)), "-", lw=1,
                label=f"Ea = {fit.Ea_eV:.3f} ± {fit.Ea_err_eV:.3f} eV")
    if len(bounded_T_K):
        _warning_box(ax, [f"no σ_ion (no diffusion) at {', '.join(f'{t:g}' for t in bounded_T_K)}"
                          " K: not fitted"])
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("ln(σ_ion T / (S K/cm))")
    ax.set_title("Ionic conductivity, Arrhenius")
    ax.legend(fontsize=8, loc="lower left")
    if path is not None:
        save_figure(fig, path)
    return fig
