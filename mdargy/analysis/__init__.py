"""Analysis of trajectories and transport results: pure numpy/scipy on arrays.

No MPI, no LAMMPS, no files: loaders (:mod:`mdargy.io`) turn files into arrays, and the functions
here turn arrays into :class:`mdargy.results.Result` objects with units in their field names.

Modules
-------
stats
    Block averages and weighted straight-line fits.
msd
    Mean squared displacement over all time origins by FFT, per species and direction.
diffusion
    Einstein fit of the MSD by GLS with its covariance (diffusive window from the data, window
    scan, calibrated σ), bounded species without D, Arrhenius fit.
conductivity
    Charge MSD → ionic conductivity σ_ion (S/cm) ± σ, Nernst–Einstein σ, Haven ratio; formal
    charges (Cu +1, P +5, S −2 by default; a charged cell is refused).
sites
    Assignment of mobile ions to the named sites of a reference, occupancies, residence times,
    jump rates between site types, path shares.
density
    Number-density grids folded into the reference cell, space-group averaging, (hkl) slices.
ionic
    All of the above for one trajectory (``ionic_transport``).
kappa
    Length extrapolation of NEMD thermal conductivity, 1/κ = 1/κ∞ + A/L.
dos
    Mass-weighted velocity autocorrelation and phonon density of states, harmonic Cv and S.
greenkubo
    Green–Kubo κ from a heat current: running integral, cepstral κ ± σ through sportran,
    multicomponent decorrelation of the mass fluxes (default for several species).

Example
-------
>>> from mdargy.io.trajectory import load_trajectory
>>> from mdargy.analysis import diffusion_coefficients, compute_dos
>>> traj = load_trajectory("md.lammpstrj", types="1=Cu,2=P,3=S", timestep_fs=2)  # doctest: +SKIP
>>> res = diffusion_coefficients(traj.positions, traj.dt_ps, species=traj.elements,
...                              masses=traj.masses_amu)                            # doctest: +SKIP
>>> res["Cu"].D_cm2_s, res["Cu"].D_err_cm2_s                                        # doctest: +SKIP
>>> dos = compute_dos(traj.velocities, traj.dt_ps, traj.elements, traj.masses_amu)  # doctest: +SKIP
"""

from mdargy.analysis.diffusion import diffusion_coefficients, fit_arrhenius
from mdargy.analysis.dos import compute_dos
from mdargy.analysis.kappa import extrapolate_kappa
from mdargy.analysis.msd import compute_msd
from mdargy.analysis.stats import LinearFit, block_average, weighted_linear_fit

__all__ = [
    "LinearFit",
    "block_average",
    "weighted_linear_fit",
    "compute_msd",
    "diffusion_coefficients",
    "fit_arrhenius",
    "extrapolate_kappa",
    "compute_dos",
]
