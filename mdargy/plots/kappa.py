"""Thermal conductivity figures: 1/κ vs 1/L with the extrapolation, and κ∞ vs T."""

from __future__ import annotations

import numpy as np

from mdargy.plots import new_figure, save_figure


def plot_kappa_extrapolation(result, path=None, ax=None):
    """1/κ against 1/L with the weighted fit 1/κ = 1/κ∞ + A/L and its 1σ band.

    Parameters
    ----------
    result : mdargy.analysis.kappa.KappaExtrapolation
    """
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    L = np.asarray(result.length_A, float)
    k = np.asarray(result.kappa_W_mK, float)
    x = 1.0 / L
    yerr = None if result.kappa_err_W_mK is None else np.asarray(result.kappa_err_W_mK) / k**2
    tag = f"{result.T_K:.0f} K: " if result.T_K is not None else ""
    eb = ax.errorbar(x, 1.0 / k, yerr=yerr, fmt="o", ms=4, capsize=2, label=f"{tag}NEMD κ(L)")
    color = eb[0].get_color()
    xx = np.linspace(0.0, x.max() * 1.05, 100)
    b, A = result.inv_kappa_inf_mK_W, result.A_AmK_W
    ax.plot(xx, b + A * xx, "-", lw=1, color=color,
            label=f"{tag}κ∞ = {result.kappa_inf_W_mK:.3g} ± {result.kappa_inf_err_W_mK:.2g} "
            f"W/(m·K), χ²_red = {result.chi2_red:.2f}")
    ax.errorbar([0.0], [b], yerr=[result.inv_kappa_inf_err_mK_W], fmt="s", ms=5, capsize=3,
                color=color)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("1/L (1/Å)")
    ax.set_ylabel("1/κ (m·K/W)")
    title = "Length extrapolation"
    if result.T_K is not None:
        title += f" at {result.T_K:.0f} K"
    ax.set_title(title)
    ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_kappa_vs_T(results, path=None, ax=None):
    """κ∞ ± σ against temperature.

    Parameters
    ----------
    results : sequence of KappaExtrapolation (each with ``T_K``), or of (T_K, κ, σ) tuples
    """
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    rows = []
    for r in results:
        if hasattr(r, "kappa_inf_W_mK"):
            rows.append((r.T_K, r.kappa_inf_W_mK, r.kappa_inf_err_W_mK))
        else:
            rows.append(tuple(r))
    rows = sorted(rows, key=lambda t: t[0])
    T, kk, ee = (np.array(c, float) for c in zip(*rows))
    ax.errorbar(T, kk, yerr=ee, fmt="o-", ms=4, capsize=2, lw=1)
    ax.set_xlabel("T (K)")
    ax.set_ylabel("κ∞ (W/(m·K))")
    ax.set_title("Extrapolated thermal conductivity")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_kappa_methods(series, band=None, path=None, ax=None):
    """κ(T) ± σ of several methods on one plot, optionally with a measured band.

    Parameters
    ----------
    series : mapping of label -> sequence of (T_K, κ W/(m·K), σ W/(m·K))
        One line per method (e.g. NEMD κ∞, Green–Kubo, Wigner κ_p + κ_c).
    band : ((T_lo, T_hi), (κ_lo, κ_hi), label), optional
        A measured range drawn as a shaded rectangle.
    """
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    markers = "osD^v<>"
    all_T = [r[0] for rows in series.values() for r in rows]
    span = (max(all_T) - min(all_T)) if len(set(all_T)) > 1 else 100.0
    for i, (label, rows) in enumerate(series.items()):
        rows = sorted(rows, key=lambda t: t[0])
        T, k, e = (np.array(c, float) for c in zip(*rows))
        # methods at the same temperature are drawn side by side (a 1 %-of-range offset)
        shift = (i - (len(series) - 1) / 2) * 0.01 * span
        ax.errorbar(T + shift, k, yerr=e, fmt=markers[i % len(markers)] + "-", ms=5, capsize=3,
                    lw=1, label=label)
    if band is not None:
        (t0, t1), (k0, k1), text = band
        if t1 <= t0:
            t0, t1 = t0 - 10.0, t1 + 10.0
        ax.fill_between([t0, t1], [k0, k0], [k1, k1], color="0.6", alpha=0.3, lw=0,
                        label=f"{text}: {k0:g}–{k1:g} W/(m·K)")
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("T (K)")
    ax.set_ylabel("κ (W/(m·K))")
    ax.set_title("Thermal conductivity by method")
    ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
