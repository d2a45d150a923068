"""Figures of mdargy results: one function per figure, taking result objects.

Every function uses matplotlib's non-interactive Agg backend (safe on clusters without a
display), labels every axis with its unit, returns the :class:`matplotlib.figure.Figure`, and
writes it atomically when given a ``path`` (:func:`save_figure`).

Modules: :mod:`~mdargy.plots.msd` (MSD with fit windows), :mod:`~mdargy.plots.diffusion`
(Arrhenius), :mod:`~mdargy.plots.kappa` (1/κ vs 1/L, κ∞ vs T), :mod:`~mdargy.plots.dos`
(phonon DOS with partials).
"""

from __future__ import annotations

import io
from pathlib import Path

from mdargy.io.atomic import atomic_write_bytes


def new_figure(figsize=(6.0, 4.2)):
    """A figure and axes on the Agg backend (no display needed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig, path, dpi: int = 150):
    """Write ``fig`` to ``path`` atomically (format from the suffix, PNG by default)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=(path.suffix.lstrip(".") or "png"), dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path
