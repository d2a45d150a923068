"""NEMD figure: the steady temperature profile with the two linear fits (drawn by ``mdargy nemd``;
the driver returns data only)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mdargy.plots import save_figure


def plot_profile(result, path: str | os.PathLike | None = None):
    """Plot T(x) ± σ, the bath slabs and the fitted lines of a :class:`NEMDResult`.

    Parameters
    ----------
    result : NEMDResult (or a dict from its ``result.json``)
    path : path-like, optional
        Save the figure there (PNG, written atomically); the figure is returned either way.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # no pyplot: works without a display

    r = result if isinstance(result, dict) else result.to_dict()
    x = np.asarray(r["x_A"], dtype=float)
    T = np.asarray(r["T_K"], dtype=float)
    e = np.asarray(r["T_err_K"], dtype=float)
    L = float(r["length_A"])
    fig = Figure(figsize=(6.0, 3.8), dpi=120)
    ax = fig.add_subplot(111)
    for key, color, label in (("cold_bath_A", "tab:blue", "cold bath"), ("hot_bath_A", "tab:red", "hot bath")):
        if r.get(key):
            ax.axvspan(*r[key], color=color, alpha=0.12, lw=0, label=label)
    ax.errorbar(x, T, yerr=e, fmt="o", ms=4, color="k", capsize=2, label="slab temperature")
    for name, color in (("fit_up", "tab:red"), ("fit_down", "tab:blue")):
        f = r[name]
        # the fit ranges: rising path between the cold and the hot bath, falling path after it
        if name == "fit_up":
            xs = np.linspace(0.0, 0.5 * L, 50)
        else:
            xs = np.linspace(0.5 * L, L, 50)
        ax.plot(xs, f["slope"] * xs + f["intercept"], "-", color=color, lw=1.5,
                label=f"fit: {f['slope']:+.3f} K/Å")
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("T (K)")
    ax.set_xlim(0, L)
    ax.set_title(f"{r['method']}: κ = {r['kappa_W_mK']:.3f} ± {r['kappa_err_W_mK']:.3f} W/m/K, "
                 f"L = {L:.1f} Å", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, Path(path), dpi=120)
    return fig
