"""Phonon DOS with its partials, stacked or overlaid, in THz, meV or cm⁻¹."""

from __future__ import annotations

import numpy as np

from mdargy.constants import THZ_TO_CM1, THZ_TO_MEV
from mdargy.errors import InputError
from mdargy.plots import new_figure, save_figure

_UNITS = {"THz": (1.0, "ν (THz)"), "meV": (THZ_TO_MEV, "E (meV)"),
          "cm-1": (THZ_TO_CM1, "ν̃ (cm⁻¹)")}


def plot_dos(result, path=None, mode: str = "stacked", unit: str = "THz", ax=None, xmax=None):
    """Total DOS with the per-element partial DOS.

    Parameters
    ----------
    result : mdargy.analysis.dos.DOSResult
    mode : {"stacked", "overlaid"}
        Stacked areas (summing to the total) or partial lines over the total.
    unit : {"THz", "meV", "cm-1"}
        Frequency axis; the DOS is converted so the areas stay 3N_e.
    xmax : float, optional
        Upper frequency limit in ``unit``; by default 1.25 × the frequency below which 99.9 %
        of the modes lie.
    """
    if unit not in _UNITS:
        raise InputError(f"unknown frequency unit {unit!r}; choose THz, meV or cm-1")
    if mode not in ("stacked", "overlaid"):
        raise InputError(f"unknown mode {mode!r}; choose stacked or overlaid")
    f, xlabel = _UNITS[unit]
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    x = np.asarray(result.freq_THz) * f
    parts = np.asarray(result.dos_partial_per_THz) / f
    total = np.asarray(result.dos_per_THz) / f
    labels = [f"{e} ({n})" for e, n in zip(result.elements, result.n_atoms)]
    if mode == "stacked" and len(result.elements) > 1:
        ax.stackplot(x, np.clip(parts, 0, None), labels=labels, alpha=0.7)
        ax.plot(x, total, "k-", lw=0.8, label="total")
    else:
        ax.plot(x, total, "k-", lw=1.2, label="total")
        if len(result.elements) > 1:
            for p, lab in zip(parts, labels):
                ax.plot(x, p, lw=1, label=lab)
    # show the spectrum up to where 99.9 % of the modes are, not to the Nyquist frequency
    cum = np.cumsum(np.clip(total, 0, None))
    top = x[min(len(x) - 1, int(np.searchsorted(cum, 0.999 * cum[-1])))] if cum[-1] > 0 else x[-1]
    ax.set_xlim(0, min(x[-1], 1.25 * top) if xmax is None else xmax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"DOS (states/{'cm⁻¹' if unit == 'cm-1' else unit})")
    ax.set_title(f"Phonon DOS (VACF, {result.window} window, "
                 f"Δν = {result.resolution_THz:.3g} THz)")
    ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
