"""Arrhenius plot: ln D against 1000/T with the fitted law."""

from __future__ import annotations

import numpy as np

from mdargy.plots import new_figure, save_figure


def plot_arrhenius(results, path=None, ax=None):
    """ln D vs 1000/T for one or several species.

    Parameters
    ----------
    results : ArrheniusResult or sequence of ArrheniusResult
    path : path-like, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    if not isinstance(results, (list, tuple)):
        results = [results]
    for r in results:
        T = np.asarray(r.T_K, float)
        D = np.asarray(r.D_cm2_s, float)
        x = 1000.0 / T
        yerr = None if r.D_err_cm2_s is None else np.asarray(r.D_err_cm2_s, float) / D
        eb = ax.errorbar(x, np.log(D), yerr=yerr, fmt="o", ms=4, capsize=2,
                         label=f"{r.species or 'D'}")
        xx = np.linspace(x.min(), x.max(), 50)
        ax.plot(xx, np.log(r.D_at(1000.0 / xx)), "-", color=eb[0].get_color(), lw=1,
                label=f"Ea = {r.Ea_eV:.3f} ± {r.Ea_err_eV:.3f} eV, "
                f"D0 = {r.D0_cm2_s:.2e} cm²/s")
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("ln(D / (cm²/s))")
    ax.set_title("Arrhenius plot")
    ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
