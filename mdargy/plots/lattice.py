"""Lattice-dynamics figures: dispersions (element-coloured, several temperatures), phonon DOS
with element partials, and the spectral / cumulative Wigner conductivity.

Each function takes :class:`mdargy.lattice.phonons.PhononResult` or
:class:`mdargy.lattice.wigner.WignerResult` objects.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mdargy.constants import THZ_TO_MEV
from mdargy.errors import InputError
from mdargy.plots import new_figure, save_figure


def _path_axes(ax, ph):
    for xv in ph.path_label_x_inv_A:
        ax.axvline(xv, color="0.6", lw=0.6)
    ax.set_xticks(list(ph.path_label_x_inv_A))
    ax.set_xticklabels(list(ph.path_labels))
    ax.set_xlim(ph.path_x_inv_A[0], ph.path_x_inv_A[-1])
    ax.axhline(0, color="0.4", lw=0.5)
    ax.set_ylabel("frequency (THz)")


def plot_dispersion_weight(ph, element: str = "Cu", path=None, ax=None, fmax_THz=None,
                           cmap: str = "viridis"):
    """Dispersion with each mode coloured by the weight of ``element`` in its eigenvector."""
    if element not in ph.band_weights:
        raise InputError(f"no element {element!r} in these phonons (have "
                         f"{', '.join(ph.band_weights)})")
    from matplotlib.collections import LineCollection

    fig, ax = new_figure((6.4, 4.4)) if ax is None else (ax.figure, ax)
    x = np.asarray(ph.path_x_inv_A)
    f = np.asarray(ph.band_freq_THz)
    w = np.asarray(ph.band_weights[element])
    segs, cols = [], []
    jump = np.abs(np.diff(x)) < 1e-12  # ASE repeats the x of a path break
    for s in range(f.shape[1]):
        pts = np.column_stack([x, f[:, s]])
        seg = np.stack([pts[:-1], pts[1:]], axis=1)[~jump]
        segs.append(seg)
        cols.append(0.5 * (w[:-1, s] + w[1:, s])[~jump])
    lc = LineCollection(np.concatenate(segs), cmap=cmap, linewidths=0.9)
    lc.set_array(np.concatenate(cols))
    lc.set_clim(0, 1)
    ax.add_collection(lc)
    fig.colorbar(lc, ax=ax, label=f"{element} weight of the mode")
    _path_axes(ax, ph)
    ax.set_ylim(min(0.0, f.min() * 1.05), fmax_THz or f.max() * 1.03)
    sec = ax.secondary_yaxis("right", functions=(lambda v: v * THZ_TO_MEV,
                                                 lambda v: v / THZ_TO_MEV))
    sec.set_ylabel("energy (meV)")
    title = f"Phonon dispersion, {element} character"
    if np.isfinite(ph.temperature_K):
        title += f" (effective FCs at {ph.temperature_K:g} K)"
    if ph.has_imaginary:
        title += f"; {len(ph.imaginary_modes)} imaginary modes (< 0)"
    ax.set_title(title, fontsize=9)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_dispersions(phs: Sequence, path=None, ax=None, fmax_THz=None, labels=None):
    """Dispersions of several force-constant sets (e.g. temperatures) in one figure."""
    if not phs:
        raise InputError("no phonon results to plot")
    fig, ax = new_figure((6.4, 4.4)) if ax is None else (ax.figure, ax)
    import matplotlib

    cmap = matplotlib.colormaps["coolwarm"]
    n = len(phs)
    for i, ph in enumerate(phs):
        if ph.path_labels != phs[0].path_labels:
            raise InputError("the phonon results follow different q-paths")
        col = cmap(i / max(1, n - 1))
        lab = labels[i] if labels else (f"{ph.temperature_K:g} K" if np.isfinite(ph.temperature_K)
                                        else "harmonic")
        f = np.asarray(ph.band_freq_THz)
        for s in range(f.shape[1]):
            ax.plot(ph.path_x_inv_A, f[:, s], color=col, lw=0.7, label=lab if s == 0 else None)
    _path_axes(ax, phs[0])
    top = max(np.asarray(p.band_freq_THz).max() for p in phs)
    ax.set_ylim(min(0.0, min(np.asarray(p.band_freq_THz).min() for p in phs)),
                fmax_THz or top * 1.03)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Phonon dispersions (temperature-dependent effective force constants)",
                 fontsize=9)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_phonon_dos(ph, path=None, ax=None):
    """Total phonon DOS with the element partials (states/THz per primitive cell)."""
    fig, ax = new_figure() if ax is None else (ax.figure, ax)
    f = np.asarray(ph.dos_freq_THz)
    ax.plot(f, ph.dos_total_per_THz, "k-", lw=1.1, label="total")
    for el, d in ph.dos_by_element_per_THz.items():
        ax.plot(f, d, lw=0.9, label=el)
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("DOS (states/THz per primitive cell)")
    ax.set_xlim(min(0.0, f[0]), f[-1])
    ax.set_title(f"Phonon DOS (phonopy, {'×'.join(map(str, ph.mesh))} mesh, ∫ = "
                 f"{ph.dos_integral:.1f})", fontsize=9)
    ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_spectral_kappa(w, path=None, index: int = 0, band_THz=None):
    """Spectral kappa_p(ω), kappa_c(ω) (left axis) and their cumulative sums (right axis)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    e = np.asarray(w.freq_bins_THz)
    mid = 0.5 * (e[1:] + e[:-1])
    sp = np.asarray(w.spectral_kappa_p_W_mK_THz)[index]
    sc = np.asarray(w.spectral_kappa_c_W_mK_THz)[index]
    ax.fill_between(mid, sp, step="mid", alpha=0.45, color="C0", label="κ_p(ω)")
    ax.fill_between(mid, sc, step="mid", alpha=0.45, color="C3", label="κ_c(ω)")
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("spectral κ (W/m/K/THz)")
    ax2 = ax.twinx()
    ax2.plot(e, np.asarray(w.cumulative_kappa_p_W_mK)[index], "C0-", lw=1.2,
             label="cumulative κ_p")
    ax2.plot(e, np.asarray(w.cumulative_kappa_c_W_mK)[index], "C3-", lw=1.2,
             label="cumulative κ_c")
    ax2.set_ylabel("cumulative κ (W/m/K)")
    T = w.temperatures_K[index]
    title = (f"Wigner κ at {T:g} K: κ_p = {w.kappa_p_scalar_W_mK[index]:.3f}, "
             f"κ_c = {w.kappa_c_scalar_W_mK[index]:.3f} W/m/K ({'×'.join(map(str, w.mesh))})")
    if band_THz is not None:
        lo, hi = band_THz
        ax.axvspan(lo, hi, color="0.85", zorder=0)
        title += f"\n{100 * w.band_share(lo, hi, 'c', index):.0f} % of κ_c from {lo:g}–{hi:g} THz"
    if w.classical:
        title += " (classical heat capacities)"
    ax.set_title(title, fontsize=9)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    ax.set_xlim(0, e[-1])
    if path is not None:
        save_figure(fig, path)
    return fig
