"""Ionic conductivity from the charge (collective) MSD, the Nernst–Einstein estimate and the
Haven ratio.

The full ionic conductivity includes every cross-correlation between ions (Einstein–Helfand):

.. math::

    \\sigma = \\frac{e^2}{6 V k_B T} \\lim_{t\\to\\infty} \\frac{d}{dt}
              \\left\\langle \\Big|\\sum_i q_i [\\mathbf r_i(t) - \\mathbf r_i(0)]\\Big|^2
              \\right\\rangle,

with formal charges :math:`q_i` (units of :math:`e`). Dropping the cross terms leaves the
Nernst–Einstein estimate :math:`\\sigma_{NE} = \\frac{e^2}{V k_B T}\\sum_s N_s q_s^2 D_s` from the
tracer diffusion coefficients. The Haven ratio is :math:`H_R = \\sigma_{NE}/\\sigma` (1 for
uncorrelated hops; < 1 when ions move together).

The charge displacement :math:`\\mathbf X(t) = \\sum_i q_i \\mathbf r_i(t)` is one "particle",
so its all-origins MSD costs one FFT (:func:`mdargy.analysis.msd.compute_msd`) after a sum over
atoms, and its slope is fitted by the same GLS with the MSD covariance as the tracer D
(:func:`mdargy.analysis.diffusion.gls_diffusion_fit`, ``n_particles = 1``). Only the total
charge must vanish: then the centre-of-mass drift cancels from :math:`\\mathbf X` exactly.

References: Haven & Verkerk, Phys. Chem. Glasses 6, 38 (1965); Murch, Solid State Ionics 7, 177
(1982); McCluskey, Coles & Morgan, J. Chem. Theory Comput. 20 (2024) (kinisi).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.diffusion import (
    diffusion_coefficients,
    find_diffusive_window,
    fit_arrhenius,
    fit_einstein,
    fit_lags,
    gls_diffusion_fit,
    squared_displacement_variance,
)
from mdargy.analysis.msd import compute_msd, species_groups
from mdargy.constants import A2_PS_TO_CM2_S, ANGSTROM_M, E_CHARGE_C, K_B_EV_K, K_B_J_K, PS_S
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = [
    "DEFAULT_FORMAL_CHARGES_E",
    "E_CHARGE_C",
    "atom_charges",
    "charge_displacement",
    "sigma_factor_S_cm",
    "ConductivityResult",
    "ionic_conductivity",
    "fit_conductivity_arrhenius",
    "conductivity_points",
]

#: Formal charges (e) used when the user gives none: Cu7PS6 as Cu⁺, P⁵⁺, S²⁻
#: (7·1 + 5 − 6·2 = 0). Any other element must be given explicitly.
DEFAULT_FORMAL_CHARGES_E = {"Cu": 1.0, "P": 5.0, "S": -2.0}



def atom_charges(elements, charges_e=None, tol: float = 1e-6) -> np.ndarray:
    """Per-atom formal charges (e) from a per-element map; refuse a charged cell.

    Parameters
    ----------
    elements : sequence of str, one per atom
    charges_e : dict {element: charge in e}, optional
        Defaults to :data:`DEFAULT_FORMAL_CHARGES_E`; entries given override the defaults.
    tol : float
        Largest accepted |total charge|, e.

    Raises
    ------
    InputError
        An element without a charge, or charges that do not sum to zero (the sum is shown).
    """
    table = dict(DEFAULT_FORMAL_CHARGES_E)
    if charges_e:
        table.update({str(k): float(v) for k, v in charges_e.items()})
    el = np.asarray(elements).astype(str)
    missing = sorted(set(el) - set(table))
    if missing:
        raise InputError(
            f"no formal charge for {', '.join(missing)}: give one per element, e.g. "
            "--charges Cu=1,P=5,S=-2"
        )
    q = np.array([table[e] for e in el], float)
    total = float(q.sum())
    if abs(total) > tol:
        names, gi = species_groups(el, el.size)
        parts = ", ".join(f"{n}: {int(np.count_nonzero(gi == k))} x {table[n]:+g}"
                          for k, n in enumerate(names))
        raise InputError(
            f"the formal charges sum to {total:+g} e, not 0 ({parts}); the conductivity "
            "needs a neutral cell: correct the charges"
        )
    return q


def charge_displacement(positions, q, memory_mb: float = 64.0) -> np.ndarray:
    """:math:`\\mathbf X(t) = \\sum_i q_i \\mathbf r_i(t)`, e·Å, shape (n_frames, 1, 3), float64.

    Summed over chunks of atoms (the input, possibly float32 or a memory map, is not copied).
    """
    x = positions
    n_frames, n_atoms = x.shape[0], x.shape[1]
    q = np.asarray(q, float)
    if q.shape != (n_atoms,):
        raise InputError(f"{q.size} charges for {n_atoms} atoms")
    out = np.zeros((n_frames, 3))
    chunk = max(1, int(memory_mb * 2**20 // (24 * max(n_atoms, 1))))
    for f0 in range(0, n_frames, chunk):
        blk = np.asarray(x[f0:f0 + chunk], dtype=np.float64)
        out[f0:f0 + chunk] = np.einsum("fad,a->fd", blk, q)
    return out[:, None, :]


def sigma_factor_S_cm(volume_A3: float, T_K: float) -> float:
    """Conversion of an MSD slope (e² Å²/ps) into σ (S/cm): :math:`e^2/(6 V k_B T)`."""
    # e^2 [C^2] (A^2 -> m^2) / (ps -> s) / (6 V [A^3 -> m^3] kT [J]) -> S/m; /100 -> S/cm
    kT_J = K_B_J_K * T_K
    return (E_CHARGE_C**2 * ANGSTROM_M**2 / PS_S
            / (6.0 * volume_A3 * ANGSTROM_M**3 * kT_J) / 100.0)


@dataclasses.dataclass(frozen=True)
class ConductivityResult(Result):
    """Ionic conductivity, full and Nernst–Einstein, and the Haven ratio.

    Attributes
    ----------
    T_K, volume_A3 : float
    charges_e : dict {element: formal charge, e}
    sigma_S_cm, sigma_err_S_cm : float
        Full σ (charge MSD, all cross-correlations) and its GLS one-sigma error; NaN when the
        charge MSD has no diffusive regime (``sigma_status`` "bounded").
    sigma_status : str
        "diffusive" or "bounded".
    sigma_NE_S_cm, sigma_NE_err_S_cm : float
        Nernst–Einstein σ from the tracer D of the diffusing species (bounded species add 0).
    sigma_NE_species_S_cm : dict {element: contribution, S/cm}
    haven_ratio, haven_ratio_err : float
        :math:`\\sigma_{NE}/\\sigma`; the error assumes the two are independent (they share the
        data, so it is an upper estimate).
    window_ps : (t_start, t_end)
        Fit window of the charge MSD.
    intercept_e2A2 : float
        Intercept of the GLS line.
    loglog_slope : float
    time_ps : ndarray (n_lags,)
    charge_msd_e2A2 : ndarray (n_lags,)
        :math:`\\langle|\\Delta\\mathbf X(t)|^2\\rangle`, e² Å² (all origins).
    gls_chi2_red : float
    warnings : tuple of str
    """

    T_K: float
    volume_A3: float
    charges_e: dict
    sigma_S_cm: float
    sigma_err_S_cm: float
    sigma_status: str
    sigma_NE_S_cm: float
    sigma_NE_err_S_cm: float
    sigma_NE_species_S_cm: dict
    haven_ratio: float
    haven_ratio_err: float
    window_ps: tuple
    intercept_e2A2: float
    loglog_slope: float
    time_ps: np.ndarray
    charge_msd_e2A2: np.ndarray
    gls_chi2_red: float
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d):
        r = super().from_dict(d)
        nan = float("nan")
        fix = {k: (nan if getattr(r, k) is None else float(getattr(r, k)))
               for k in ("sigma_S_cm", "sigma_err_S_cm", "sigma_NE_S_cm", "sigma_NE_err_S_cm",
                         "haven_ratio", "haven_ratio_err", "gls_chi2_red", "loglog_slope",
                         "intercept_e2A2")}
        return dataclasses.replace(r, **fix, time_ps=np.asarray(r.time_ps, float),
                                   charge_msd_e2A2=np.asarray(r.charge_msd_e2A2, float),
                                   window_ps=tuple(r.window_ps), warnings=tuple(r.warnings))


def ionic_conductivity(
    positions,
    dt_ps: float,
    elements,
    volume_A3: float,
    T_K: float,
    charges_e=None,
    diffusion=None,
    window_ps=None,
    tol: float = 0.3,
    end_fraction: float = 0.5,
    n_fit_points: int = 64,
    min_significance: float = 3.0,
) -> ConductivityResult:
    """σ_ion (S/cm) from the charge MSD, the Nernst–Einstein σ and the Haven ratio.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3)
        Unwrapped positions, Å.
    dt_ps : float
        Time between frames, ps.
    elements : sequence of str, one per atom
    volume_A3 : float
        Cell volume, Å³ (mean over the run for NPT).
    T_K : float
        Temperature, K (the measured mean of the run).
    charges_e : dict, optional
        Formal charges per element, e (defaults: :data:`DEFAULT_FORMAL_CHARGES_E`); must sum to
        zero over the cell.
    diffusion : DiffusionAnalysis, optional
        Tracer D per species (for σ_NE); computed with the same window rules when None.
    window_ps : (float, float), optional
        Fit window of the charge MSD; by default the diffusive window of the fastest diffusing
        species' tracer MSD (the charge MSD, a single collective coordinate, is too noisy to
        find the end of the rattling regime itself); its own log-log slope (``tol``) when no
        species diffuses.

    Returns
    -------
    ConductivityResult
    """
    if not (volume_A3 > 0 and T_K > 0):
        raise InputError(f"volume ({volume_A3} A3) and temperature ({T_K} K) must be positive")
    el = np.asarray(elements).astype(str)
    q = atom_charges(el, charges_e)
    n_frames = np.shape(positions)[0]
    if diffusion is None:
        diffusion = diffusion_coefficients(positions, dt_ps, species=el, T_K=T_K)
    X = charge_displacement(positions, q)
    cm = compute_msd(X, dt_ps, remove_com=False)
    y = cm.total(0)
    warns = []
    fac = sigma_factor_S_cm(volume_A3, T_K)
    # Nernst–Einstein from the tracer D
    table = {n: float(q[el == n][0]) for n in diffusion.msd.species}
    ne, ne_var = {}, 0.0
    for d in diffusion.diffusion:
        qs = table[d.species]
        if d.diffusing:
            # sigma_NE = e^2/(V kT) N q^2 D = fac * 6 N q^2 D[A2/ps]
            c = fac * 6.0 * d.n_atoms * qs**2 / A2_PS_TO_CM2_S
            ne[d.species] = c * d.D_cm2_s
            ne_var += (c * d.D_err_cm2_s) ** 2
        else:
            ne[d.species] = 0.0
            if qs != 0:
                warns.append(f"{d.species} is bounded: it adds nothing to the Nernst–Einstein "
                             "sigma")
    sigma_NE = float(sum(ne.values()))
    sigma_NE_err = math.sqrt(ne_var)
    fast = [d for d in diffusion.diffusion if d.diffusing]
    if window_ps is not None:
        win = (float(window_ps[0]), float(window_ps[1]))
    elif fast:
        # the charge MSD is one "particle": too noisy to locate the end of the sub-diffusive
        # (rattling) regime itself; the tracer MSD of the fastest species marks it
        best = max(fast, key=lambda d: d.D_cm2_s)
        win = best.window_ps
    else:
        win, w = find_diffusive_window(cm.time_ps, y, tol=tol, end_fraction=end_fraction)
        warns += w
    lags = fit_lags(n_frames, dt_ps, win, n_fit_points)
    var = squared_displacement_variance(X, lags, np.zeros(1, int), 1)[0]
    g = gls_diffusion_fit(y, var, lags, 1, n_frames, dt_ps)
    ein = fit_einstein(cm.time_ps, y, win)
    sigma, sigma_err = g.slope * fac, g.slope_err * fac
    no_diffusing = not any(d.diffusing for d in diffusion.diffusion)
    ok = sigma > 0 and sigma >= min_significance * sigma_err and not no_diffusing
    if not ok:
        warns.append(
            f"the charge MSD does not grow significantly (sigma = {sigma:.3g} ± "
            f"{sigma_err:.2g} S/cm): no ionic conductivity is reported"
            + (" (no species diffuses)" if no_diffusing else "")
        )
    H = sigma_NE / sigma if ok and sigma > 0 else float("nan")
    H_err = (abs(H) * math.hypot(sigma_NE_err / sigma_NE if sigma_NE else 0.0,
                                 sigma_err / sigma) if ok and sigma_NE > 0 else float("nan"))
    return ConductivityResult(
        T_K=float(T_K),
        volume_A3=float(volume_A3),
        charges_e={n: table[n] for n in diffusion.msd.species},
        sigma_S_cm=float(sigma) if ok else float("nan"),
        sigma_err_S_cm=float(sigma_err) if ok else float("nan"),
        sigma_status="diffusive" if ok else "bounded",
        sigma_NE_S_cm=sigma_NE,
        sigma_NE_err_S_cm=sigma_NE_err,
        sigma_NE_species_S_cm=ne,
        haven_ratio=float(H),
        haven_ratio_err=float(H_err),
        window_ps=tuple(float(v) for v in win),
        intercept_e2A2=float(g.intercept),
        loglog_slope=float(ein.loglog_slope),
        time_ps=cm.time_ps,
        charge_msd_e2A2=y,
        gls_chi2_red=float(g.chi2_red),
        warnings=tuple(warns),
        provenance=provenance(
            analysis="ionic_conductivity", dt_ps=dt_ps, n_frames=n_frames,
            n_atoms=int(el.size), volume_A3=volume_A3, T_K=T_K, charges_e=charges_e,
            window_ps=window_ps, tol=tol, end_fraction=end_fraction,
            n_fit_points=n_fit_points, min_significance=min_significance,
        ),
    )


def fit_conductivity_arrhenius(T_K, sigma_S_cm, sigma_err_S_cm=None):
    """Arrhenius law of the ionic conductivity, :math:`\\sigma T = A \\exp(-E_a/k_BT)`.

    Fitted as :func:`mdargy.analysis.diffusion.fit_arrhenius` on :math:`\\sigma T` (S K/cm);
    the result's ``D0_cm2_s`` field holds the prefactor A in S K/cm and ``species`` is
    ``"sigma*T"``. Temperatures without a conductivity (NaN: bounded) must be left out by the
    caller (:func:`conductivity_points`).
    """
    T = np.asarray(T_K, float)
    s = np.asarray(sigma_S_cm, float)
    e = None if sigma_err_S_cm is None else np.asarray(sigma_err_S_cm, float) * T
    return fit_arrhenius(T, s * T, e, species="sigma*T")


def conductivity_points(results):
    """(T_K, sigma_S_cm, sigma_err_S_cm) arrays of the results that have a conductivity, and
    the temperatures left out (bounded)."""
    ok = [r for r in results if r.sigma_status == "diffusive" and math.isfinite(r.sigma_S_cm)]
    left = [r.T_K for r in results if r not in ok]
    return (np.array([r.T_K for r in ok]), np.array([r.sigma_S_cm for r in ok]),
            np.array([r.sigma_err_S_cm for r in ok]), left)
