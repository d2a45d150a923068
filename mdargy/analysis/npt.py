"""The equilibrium volume of an NPT run, with an honest error bar.

A constant-pressure run's volume and pressure fluctuate with the barostat's period (ps), so
consecutive thermo rows are correlated and their scatter divided by √n understates the error of
the mean. :func:`npt_average` discards the first part of the run (the approach to equilibrium)
and takes the standard error from contiguous blocks (:func:`mdargy.analysis.stats.block_average`;
Flyvbjerg & Petersen, J. Chem. Phys. 91, 461 (1989)). Pure functions on arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mdargy.analysis.stats import block_average
from mdargy.errors import InputError

__all__ = ["NPTAverage", "npt_average", "lattice_length_err_A"]

#: Blocks of the kept part of an NPT run that set the standard errors.
NPT_ERROR_BLOCKS = 5


@dataclasses.dataclass(frozen=True)
class NPTAverage:
    """Mean volume and pressure of the equilibrated part of an NPT run.

    Attributes
    ----------
    volume_A3, volume_err_A3 : float
        Mean volume of the simulation cell and its standard error (Å³).
    pressure_bar, pressure_err_bar : float
        Mean pressure and its standard error (bar).
    n_rows : int
        Thermo rows averaged (after the discarded start).
    n_blocks : int
        Blocks that set the errors.
    """

    volume_A3: float
    volume_err_A3: float
    pressure_bar: float
    pressure_err_bar: float
    n_rows: int
    n_blocks: int


def npt_average(volume_A3, pressure_bar, discard_fraction: float = 0.5,
                n_blocks: int = NPT_ERROR_BLOCKS) -> NPTAverage:
    """Mean volume and pressure of an NPT run's thermo rows after ``discard_fraction``.

    The means are over all kept rows; their standard errors from ``n_blocks`` contiguous blocks.

    Parameters
    ----------
    volume_A3, pressure_bar : array_like, shape (n,)
        Thermo rows of the NPT run in time order (Å³, bar).
    discard_fraction : float
        Leading fraction of the rows left out (equilibration), in [0, 1).
    n_blocks : int
        Contiguous blocks of the kept rows for the standard errors; at least 2 rows per block
        are required.

    Returns
    -------
    NPTAverage
    """
    v = np.asarray(volume_A3, dtype=float)
    p = np.asarray(pressure_bar, dtype=float)
    if v.shape != p.shape or v.ndim != 1:
        raise InputError(f"volume and pressure need one row each (shapes {v.shape}, {p.shape})")
    if not 0.0 <= discard_fraction < 1.0:
        raise InputError(f"discard_fraction = {discard_fraction}: must be in [0, 1)")
    start = int(len(v) * discard_fraction)
    v, p = v[start:], p[start:]
    if v.size < 2 * n_blocks:
        raise InputError(f"only {v.size} NPT thermo rows after discarding "
                         f"{discard_fraction:.0%}: need at least {2 * n_blocks} for "
                         f"{n_blocks} error blocks")
    _, ve = block_average(v, n_blocks)
    _, pe = block_average(p, n_blocks)
    return NPTAverage(volume_A3=float(v.mean()), volume_err_A3=ve, pressure_bar=float(p.mean()),
                      pressure_err_bar=pe,
                      n_rows=int(v.size), n_blocks=int(n_blocks))


def lattice_length_err_A(length_A: float, avg: NPTAverage) -> float:
    """Standard error of a cell length scaled isotropically to ``avg``'s mean volume:
    σ_a / a = σ_V / (3 V)."""
    return float(length_A) * avg.volume_err_A3 / (3.0 * avg.volume_A3)
