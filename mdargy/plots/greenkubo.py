"""Green–Kubo figure: running integral κ(t) with the cepstral κ ± σ band, and the spectrum."""

from __future__ import annotations

import numpy as np

from mdargy.plots import save_figure


def plot_green_kubo(result, path=None, spectrum=None):
    """Running Green–Kubo integral with the cepstral κ and its ±σ band.

    Parameters
    ----------
    result : mdargy.analysis.greenkubo.GreenKuboResult
    path : path, optional
        Write the figure there (PNG/PDF/SVG by suffix).
    spectrum : (freq_THz, kappa_omega_W_mK), optional
        Spectrum of J as κ(ω) (:func:`mdargy.analysis.greenkubo.periodogram`, smoothed); drawn
        in a second panel with the cutoff f*.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    two = spectrum is not None
    fig = Figure(figsize=(6.2, 7.4 if two else 4.2), layout="constrained")
    ax = fig.add_subplot(2 if two else 1, 1, 1)
    lag = np.asarray(result.running_lag_ps)
    k, e = result.kappa_W_mK, result.kappa_err_W_mK
    multi = result.method == "multicomponent"
    ax.plot(lag, result.running_kappa_W_mK, color="C0",
            label="running integral" + (", J decorrelated (instantaneous regression on the "
                                        "mass fluxes)" if multi else ""))
    if multi or (len(result.species) > 1):
        ax.plot(lag, result.running_kappa_one_component_W_mK, color="C3", lw=0.8, ls="--",
                label="one-component running integral (NOT valid: mass-flux part included)")
    ax.axhspan(k - e, k + e, color="C1", alpha=0.3, lw=0)
    ax.axhline(k, color="C1", label=f"cepstral κ = {k:.3g} ± {e:.2g} W/m/K ({result.method}, "
               f"f* = {result.fstar_THz:.3g} THz)")
    a, b = result.plateau_window_ps
    ax.axvspan(a, b, color="0.85", zorder=0, label="plateau window (spread only, not σ)")
    ax.set_xlabel("correlation time t (ps)")
    ax.set_ylabel("κ(t) (W/m/K)")
    if multi:  # scale to the valid curve (past its first 0.2 ps); the one-component one may
        late = np.asarray(result.running_kappa_W_mK)[lag > 0.2]  # leave the frame
        if late.size:
            lo, hi = np.nanpercentile(late, [0.5, 99.5])
            ax.set_ylim(min(0.0, lo), 1.5 * max(hi, k + e))
    ax.set_title(f"Green–Kubo, {result.temperature_K:.0f} K, {result.duration_ps:.0f} ps "
                 f"({', '.join(result.species) or 'one species'})", fontsize=10)
    ax.legend(fontsize=6.5, loc="upper right")
    if two:
        f, s = (np.asarray(x) for x in spectrum)
        ax2 = fig.add_subplot(2, 1, 2)
        ax2.plot(f, s, color="C0", lw=0.8, label="spectrum of J (smoothed); κ = value at 0")
        ax2.axvline(result.fstar_THz, color="C2", ls=":", label=f"f* = {result.fstar_THz:.3g} THz")
        ax2.axhline(k, color="C1", lw=0.8)
        ax2.set_xlim(0, min(f[-1], 3 * result.fstar_THz))
        ax2.set_yscale("log")
        ax2.set_xlabel("frequency ν (THz)")
        ax2.set_ylabel("κ(ν) (W/m/K)")
        ax2.legend(fontsize=7)
    if path is not None:
        save_figure(fig, path)
    return fig
