"""MSD(t) per species on log-log axes, with the Einstein fit and its window marked."""

from __future__ import annotations

import numpy as np

from mdargy.constants import A2_PS_TO_CM2_S
from mdargy.plots import new_figure, save_figure


def plot_msd(msd, diffusion=None, path=None, ax=None):
    """Plot the total MSD of every species on log-log axes.

    Parameters
    ----------
    msd : mdargy.analysis.msd.MSDResult
    diffusion : DiffusionAnalysis or sequence of DiffusionResult, optional
        When given, each species' fit window is shaded and the fitted line drawn; species
        without a diffusive regime get a warning box in the figure instead of a fit.
    path : path-like, optional
        Write the figure there (atomically).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    fits = {}
    if diffusion is not None:
        for d in getattr(diffusion, "diffusion", diffusion):
            fits[d.species] = d
    t = np.asarray(msd.time_ps)
    bounded = []
    for i, name in enumerate(msd.species):
        y = msd.total(i)
        ok = (t > 0) & (y > 0)
        (line,) = ax.loglog(t[ok], y[ok], lw=1.2, label=f"{name} ({msd.n_atoms[i]} atoms)")
        d = fits.get(name)
        if d is not None and not getattr(d, "diffusing", True):
            bounded.append(f"{name}: bounded, no diffusive regime (apparent D ≤ "
                           f"{d.D_upper_cm2_s:.1e} cm²/s); no D, not in Arrhenius fits")
        elif d is not None:
            t0, t1 = d.window_ps
            ax.axvspan(t0, t1, color=line.get_color(), alpha=0.08)
            tt = np.geomspace(max(t0, t[ok][0]), t1, 50)
            slope_A2_ps = 6.0 * d.D_cm2_s / A2_PS_TO_CM2_S
            ax.loglog(tt, slope_A2_ps * tt + d.intercept_A2, "k--", lw=1.4, alpha=0.8,
                      label=f"{name} fit: D = {d.D_cm2_s:.3g} ± {d.D_err_cm2_s:.2g} cm²/s")
    if bounded:
        ax.text(0.02, 0.98, "WARNING\n" + "\n".join(bounded), transform=ax.transAxes,
                va="top", ha="left", fontsize=7, color="darkred",
                bbox=dict(boxstyle="round", fc="mistyrose", ec="darkred", alpha=0.9))
    ax.set_xlabel("lag time t (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title("Mean squared displacement" + (" (COM drift removed)" if msd.com_removed else ""))
    ax.legend(fontsize=8, loc="lower right")
    if path is not None:
        save_figure(fig, path)
    return fig
