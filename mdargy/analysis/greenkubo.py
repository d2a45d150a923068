"""Green–Kubo thermal conductivity from an equilibrium heat current: running integral and the
cepstral estimate (through sportran), with multicomponent decorrelation of the mass fluxes.

Green–Kubo: with the extensive current :math:`\\mathbf{J}V` (eV Å/ps, LAMMPS ``metal``),

.. math:: \\kappa = \\frac{1}{3 V k_B T^2}\\int_0^\\infty
          \\langle \\mathbf{J}V(t)\\cdot\\mathbf{J}V(0)\\rangle\\,dt .

*Running integral.* The integral up to a lag :math:`t` of the autocorrelation (all time origins,
FFT, unbiased normalisation). Its plateau is a poor estimator (its noise grows as √t), so it is
shown for inspection only.

*Cepstral estimate* (Ercole, Marcolongo & Baroni, Sci. Rep. 7, 15835 (2017)): κ is the
zero-frequency value of the power spectrum of J; the log-periodogram is smoothed by keeping the
first P* cepstral coefficients (chosen by the Akaike information criterion) below a cutoff
frequency f*. The error bar σ follows from the known statistics of the periodogram; it is
tested here on Ornstein–Uhlenbeck currents (pull distribution of unit width).

*Limitation.* The cepstral filter keeps P* coefficients below f*, so it resolves spectral
features down to about f*/P*. A zero-frequency peak narrower than that (phonons living tens of
ps, as in LJ argon at 50 K in a 2048-atom cell) is underestimated, and σ does not include this
bias. The result is flagged when the running integral's plateau disagrees. Run long enough, or
lower f*.

*Multicomponent systems* (Bertossa, Grasselli & Baroni, Phys. Rev. Lett. 122, 255901 (2019)):
in a system of several species the energy current can carry a non-diffusive part correlated
with the mass fluxes (and per-atom energies have arbitrary species offsets, which enter the
convective current as Σ_s ε_s J_s). The conductivity is the zero-frequency value of
1/(S⁻¹)₀₀ of the cross-spectrum matrix of J and the independent mass fluxes (one species
fewer than present: total momentum is conserved). This is the default whenever more than one
species is present; the one-component value of such a system is reported only as a flagged
diagnostic. The running integral shown with it is that of J minus its instantaneous regression
on the mass fluxes (:func:`decorrelate_instantaneous`): a picture, not the estimate.

The cepstral analysis is done by ``sportran`` (Ercole, Bertossa, Grasselli, Baroni). sportran
1.0.0rc4 calls ``numpy.trapz``, which NumPy 2.4 removed: :func:`sportran_numpy_compat` supplies
it, only for the duration of our sportran calls, as ``numpy.trapezoid`` (NumPy's own rename of
the same function: same signature and arithmetic), so no other code sees a patched NumPy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import warnings

import numpy as np

from mdargy.constants import ANGSTROM_M, EV_J, K_B_EV_K, PS_S
from mdargy.errors import InputError
from mdargy.results import Result, provenance

#: eV/(Å ps K) -> W/(m K)
EV_A_PS_TO_W_M = EV_J / (ANGSTROM_M * PS_S)

#: Fewest frequency points below f* that the cepstral analysis is run on.
MIN_FREQS_BELOW_FSTAR = 200

_COMPAT_LOCK = threading.RLock()


@contextlib.contextmanager
def sportran_numpy_compat():
    """Let sportran 1.0.0rc4 run on NumPy >= 2.4, only inside this block.

    Adds ``numpy.trapz = numpy.trapezoid`` when NumPy lacks ``trapz`` and removes it on exit;
    silences the DeprecationWarning of ``numpy.row_stack`` that sportran also uses; captures
    sportran's log (it prints to stdout); restores matplotlib's rcParams on exit (importing
    sportran applies its own style globally, including ``savefig.format : 'pdf'`` with the
    quotes, which breaks every later ``savefig`` in the process). Import sportran inside the
    block. Re-entrant and serialised by a lock.

    Yields
    ------
    io.StringIO
        sportran's log text.
    """
    with _COMPAT_LOCK:
        added = False
        if not hasattr(np, "trapz"):
            np.trapz = np.trapezoid
            added = True
        log = io.StringIO()
        try:
            import matplotlib

            with matplotlib.rc_context(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*row_stack.*", category=DeprecationWarning)
                warnings.filterwarnings("ignore", message=".*trapz.*", category=DeprecationWarning)
                with contextlib.redirect_stdout(log):
                    yield log
        finally:
            if added:
                del np.trapz


def kappa_prefactor(volume_A3: float, temperature_K: float) -> float:
    """W/(m K) per (eV Å/ps)² ps of ∫⟨JV·JV⟩/3 dt: 1 / (V k_B T²) in SI."""
    return EV_A_PS_TO_W_M / (float(volume_A3) * K_B_EV_K * float(temperature_K) ** 2)


def _check_series(name, x, n_components=3):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != n_components:
        raise InputError(f"{name} must have shape (n_samples, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name} has non-finite values")
    return x


def decorrelate_instantaneous(currents) -> tuple[np.ndarray, np.ndarray]:
    """J minus its instantaneous linear regression on the other currents.

    c = ⟨J Mᵀ⟩ ⟨M Mᵀ⟩⁻¹ (equal-time covariances over samples and Cartesian components), and
    J' = J − c M. Adding any fixed combination of mass fluxes to J leaves the multicomponent κ
    unchanged (Bertossa, Grasselli & Baroni 2019); this one removes, in particular, the
    species offsets of the per-atom energies, which enter J as Σ_s ε_s (Σ_{i∈s} v_i). Its
    one-component running integral approaches the multicomponent κ as far as the remaining
    correlation with the mass fluxes is instantaneous; it is drawn for inspection, the
    estimate is the cepstral one.

    Returns (J' (n, 3), c (m - 1,)).
    """
    X = np.asarray(currents, dtype=float)
    if X.ndim == 2 or X.shape[0] == 1:
        return X.reshape(-1, X.shape[-2], 3)[0], np.zeros(0)
    J, M = X[0], X[1:]
    G = np.einsum("atc,btc->ab", M, M)
    g = np.einsum("tc,btc->b", J, M)
    c = np.linalg.solve(G, g)
    return J - np.einsum("b,btc->tc", c, M), c


def running_integral(currents, dt_ps: float, volume_A3: float, temperature_K: float,
                     max_lag_ps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Running Green–Kubo integral κ(t) of J, after :func:`decorrelate_instantaneous` when
    further currents are given.

    Parameters
    ----------
    currents : array (n, 3) or (m, n, 3)
        J V (eV Å/ps) first, then any further currents (e.g. species velocity sums).
    dt_ps : float
        Sampling interval.
    volume_A3, temperature_K : float
    max_lag_ps : float, optional
        Longest lag (default: a tenth of the series, at most 100 ps).

    Returns
    -------
    lag_ps : ndarray
    kappa_W_mK : ndarray
        Trapezoidal integral of the autocorrelation (all time origins, unbiased) up to each
        lag, times :func:`kappa_prefactor` / 3.
    """
    J, _ = decorrelate_instantaneous(currents)
    n = J.shape[0]
    if max_lag_ps is None:
        max_lag_ps = min(0.1 * n * dt_ps, 100.0)
    n_lags = int(min(n - 1, max(2, round(max_lag_ps / dt_ps) + 1)))
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    F = np.fft.rfft(J, n=nfft, axis=0)
    C = np.fft.irfft((F * F.conj()).sum(axis=1), n=nfft)[:n_lags] / (n - np.arange(n_lags))
    k = np.zeros(n_lags)
    k[1:] = np.cumsum(0.5 * (C[1:] + C[:-1])) * dt_ps
    lag = np.arange(n_lags) * dt_ps
    return lag, k * kappa_prefactor(volume_A3, temperature_K) / 3.0


@dataclasses.dataclass(frozen=True)
class CepstralEstimate(Result):
    """One cepstral analysis (sportran): κ ± σ, the cutoff f* and the number of coefficients."""

    kappa_W_mK: float
    kappa_err_W_mK: float
    fstar_THz: float
    cutoffK: int
    n_freqs_below_fstar: int
    n_currents: int
    log: str


def cepstral_kappa(currents, dt_ps: float, volume_A3: float, temperature_K: float,
                   fstar_THz: float, aic_Kmin_corrfactor: float = 1.0) -> CepstralEstimate:
    """Cepstral κ ± σ with sportran (multicomponent when ``currents`` holds more than J).

    Parameters
    ----------
    currents : array (n, 3) or (m, n, 3)
        J V (eV Å/ps) first, then the currents to decorrelate from (m - 1 <= 2: sportran needs
        at least as many Cartesian components as currents).
    dt_ps : float
    volume_A3, temperature_K : float
    fstar_THz : float
        Cutoff frequency; the series is filtered and resampled to a Nyquist frequency f*.
    aic_Kmin_corrfactor : float
        Factor on the AIC choice of the number of cepstral coefficients (sportran's default 1).

    Raises
    ------
    InputError
        Too few currents' components, too short a series (fewer than
        :data:`MIN_FREQS_BELOW_FSTAR` frequencies below f*), f* above the Nyquist frequency.
    """
    X = np.asarray(currents, dtype=float)
    m = 1 if X.ndim == 2 else X.shape[0]
    if m > 3:
        raise InputError(f"{m} currents: the multicomponent cepstral analysis of 3 Cartesian "
                         "components can decorrelate from at most 2 mass fluxes (3 species)")
    n = X.shape[-2]
    duration = n * dt_ps
    nyq = 0.5 / dt_ps
    if fstar_THz > nyq * (1 + 1e-9):
        raise InputError(f"f* = {fstar_THz:g} THz is above the Nyquist frequency "
                         f"{nyq:g} THz of the sampling")
    n_f = int(duration * min(fstar_THz, nyq))
    if n_f < MIN_FREQS_BELOW_FSTAR:
        raise InputError(
            f"the heat-current series is too short for the cepstral analysis: {duration:g} ps "
            f"gives {n_f} frequencies below f* = {fstar_THz:g} THz; at least "
            f"{MIN_FREQS_BELOW_FSTAR} are needed, i.e. a run of >= "
            f"{MIN_FREQS_BELOW_FSTAR / fstar_THz:g} ps at this f* (and, for a useful σ, many "
            "times the heat-current correlation time: hundreds of ps for a crystal)")
    with sportran_numpy_compat() as log:
        import sportran as st

        j = st.HeatCurrent(X, DT_FS=dt_ps * 1000.0, UNITS="metal", TEMPERATURE=float(temperature_K),
                           VOLUME=float(volume_A3))
        if fstar_THz < nyq * (1 - 1e-9):
            jf = j.resample(fstar_THz=float(fstar_THz), plot=False, verbose=False)
        else:
            jf = j
        jf.cepstral_analysis(aic_Kmin_corrfactor=aic_Kmin_corrfactor)
    return CepstralEstimate(
        kappa_W_mK=float(jf.kappa), kappa_err_W_mK=float(jf.kappa_std),
        fstar_THz=float(jf.Nyquist_f_THz), cutoffK=int(jf.cepf.cutoffK),
        n_freqs_below_fstar=int(jf.NFREQS), n_currents=m, log=log.getvalue())


def periodogram(currents, dt_ps: float, volume_A3: float, temperature_K: float,
                smooth_THz: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum of J as κ(ω) (W/m/K; its ω = 0 value is κ), multicomponent when extra
    currents are given (1/(S⁻¹)₀₀); optionally a moving average over ``smooth_THz``.

    Returns (freq_THz, kappa_omega_W_mK).
    """
    X = np.asarray(currents, dtype=float)
    if X.ndim == 2:
        X = X[None]
    m, n, _ = X.shape
    F = np.fft.rfft(X, axis=1)  # (m, nf, 3)
    S = np.einsum("afc,bfc->fab", F, F.conj())  # summed over Cartesian components
    if m == 1:
        s = S[:, 0, 0].real / 3.0
    else:
        s = (1.0 / np.linalg.inv(S)[:, 0, 0]).real / (3 - m + 1)
    s = s * dt_ps / n  # periodogram normalisation: <s(0)> = ∫ C dt over all times = 2 ∫_0^∞
    freq = np.fft.rfftfreq(n, d=dt_ps)
    kw = 0.5 * s * kappa_prefactor(volume_A3, temperature_K)
    if smooth_THz > 0:
        w = max(1, int(round(smooth_THz / (freq[1] - freq[0]))))
        kw = np.convolve(kw, np.ones(w) / w, mode="same")
    return freq, kw


#: Default f*: the frequency below which this fraction of the spectrum's power lies.
FSTAR_POWER_FRACTION = 0.95


def choose_fstar(freq_THz: np.ndarray, spectrum: np.ndarray, duration_ps: float,
                 fraction: float = FSTAR_POWER_FRACTION) -> float:
    """Default cutoff f*: where the cumulative power of the spectrum reaches ``fraction``, but
    at least :data:`MIN_FREQS_BELOW_FSTAR` / duration and at most the Nyquist frequency.

    Above that frequency the spectrum holds little but a floor many decades down, whose
    dynamic range in the log-periodogram biases the cepstral fit: measured on LJ argon at
    50 K (1 ns), κ = 0.40 ± 0.03 W/m/K for f* = 2-4 THz (95 % of the power below 3.4 THz) but
    0.24 ± 0.01 with f* = 25 THz. Check the choice with ``fstar_scan`` of the result.
    """
    c = np.cumsum(np.clip(spectrum, 0, None))
    f = float(freq_THz[min(len(c) - 1, int(np.searchsorted(c, fraction * c[-1])))])
    return float(min(max(f, MIN_FREQS_BELOW_FSTAR / duration_ps * 1.01), freq_THz[-1]))


@dataclasses.dataclass(frozen=True)
class GreenKuboResult(Result):
    """Green–Kubo thermal conductivity of one heat-current series.

    ``kappa_W_mK`` ± ``kappa_err_W_mK`` is the cepstral estimate of the method in ``method``
    (``multicomponent`` whenever more than one species is present). The one-component
    numbers of a multi-species system (``kappa_one_component_*``) are a diagnostic, biased by
    the mass-flux correlation: see ``flags``. ``kappa_plateau_W_mK`` is the mean of the running
    integral over ``plateau_window_ps`` and ``kappa_plateau_spread_W_mK`` its standard
    deviation there (not an error bar). ``fstar_scan`` holds κ ± σ at other cutoffs (a check of
    the choice of f*). ``running_*`` are the running integral (κ(t) in W/m/K at lags in ps).
    """

    kappa_W_mK: float
    kappa_err_W_mK: float
    method: str
    species: tuple
    n_currents: int
    kappa_one_component_W_mK: float
    kappa_one_component_err_W_mK: float
    fstar_THz: float
    fstar_auto: bool
    cutoffK: int
    n_freqs_below_fstar: int
    fstar_scan: tuple
    kappa_plateau_W_mK: float
    kappa_plateau_spread_W_mK: float
    plateau_window_ps: tuple
    n_samples: int
    dt_ps: float
    duration_ps: float
    temperature_K: float
    volume_A3: float
    flags: tuple
    running_lag_ps: np.ndarray
    running_kappa_W_mK: np.ndarray
    running_kappa_one_component_W_mK: np.ndarray
    provenance: dict


def green_kubo(J_eVA_ps, dt_ps: float, volume_A3: float, temperature_K: float,
               species_flux=None, species: tuple = (), multicomponent: bool | None = None,
               fstar_THz: float | None = None, max_lag_ps: float | None = None,
               plateau_window_ps: tuple | None = None, ensemble: str = "nve",
               inputs: dict | None = None) -> GreenKuboResult:
    """Green–Kubo κ of a heat-current series: cepstral κ ± σ and the running integral.

    Parameters
    ----------
    J_eVA_ps : array (n, 3)
        Extensive heat current J V, eV Å/ps.
    dt_ps : float
        Sampling interval.
    volume_A3, temperature_K : float
    species_flux : array (n_species, n, 3), optional
        Per-species velocity (or mass-flux) sums; required for the multicomponent analysis.
    species : tuple of str
        Names of the species of ``species_flux``.
    multicomponent : bool, optional
        Default: True when more than one species is present. False for a multi-species system
        gives the (flagged) one-component value as the answer.
    fstar_THz : float, optional
        Cutoff frequency of the cepstral analysis; default: where 95 % of the spectrum's power
        lies below (:func:`choose_fstar`).
    max_lag_ps : float, optional
        Longest lag of the running integral.
    plateau_window_ps : (float, float), optional
        Window of the running integral averaged as its "plateau" (default: second half).
    ensemble : str
        Production ensemble of the run; anything but ``nve`` is flagged (a thermostat
        perturbs the dynamics that carry the heat).
    inputs : dict, optional
        Recorded in the provenance (file, options).

    Raises
    ------
    InputError
        Bad shapes or values; a series too short for the cepstral analysis (the message says
        how long it must be).
    """
    J = _check_series("J_eVA_ps", J_eVA_ps)
    n = J.shape[0]
    if not (dt_ps > 0 and volume_A3 > 0 and temperature_K > 0):
        raise InputError("dt_ps, volume_A3 and temperature_K must be positive")
    species = tuple(species)
    flux = None
    if species_flux is not None:
        flux = np.asarray(species_flux, dtype=float)
        if flux.ndim != 3 or flux.shape[1:] != (n, 3):
            raise InputError(f"species_flux must have shape (n_species, {n}, 3), got {flux.shape}")
        if not species:
            species = tuple(f"species{i + 1}" for i in range(flux.shape[0]))
        if len(species) != flux.shape[0]:
            raise InputError("species and species_flux disagree in the number of species")
    n_species = len(species) if species else 1
    if multicomponent is None:
        multicomponent = n_species > 1
    flags = []
    if multicomponent and n_species < 2:
        raise InputError("the multicomponent analysis needs at least two species")
    if multicomponent and flux is None:
        raise InputError("the multicomponent analysis needs the species velocity sums")
    if multicomponent and n_species > 3:
        raise InputError(f"{n_species} species: sportran's multicomponent analysis of a 3-D "
                         "current can decorrelate from at most 2 independent mass fluxes")
    # the independent fluxes: total momentum is conserved, so the last species is dependent
    currents = np.concatenate([J[None], flux[:-1]]) if multicomponent else J[None]
    m = currents.shape[0]
    if ensemble.lower() != "nve":
        flags.append(f"production ensemble {ensemble!r}, not NVE: the thermostat perturbs the "
                     "heat-carrying dynamics (Green–Kubo needs NVE)")

    freq, spec = periodogram(currents, dt_ps, volume_A3, temperature_K)
    fstar_auto = fstar_THz is None
    if fstar_auto:
        fstar_THz = choose_fstar(freq, spec, n * dt_ps)
    fstar_THz = float(min(fstar_THz, freq[-1]))
    main = cepstral_kappa(currents, dt_ps, volume_A3, temperature_K, fstar_THz)
    one = main if m == 1 else cepstral_kappa(J, dt_ps, volume_A3, temperature_K, fstar_THz)
    if n_species > 1 and not multicomponent:
        flags.append("ONE-COMPONENT analysis of a multi-species system: κ includes the "
                     "non-diffusive mass-flux part of J (and per-atom energy offsets); use the "
                     "multicomponent analysis")
    elif multicomponent:
        d = one.kappa_W_mK - main.kappa_W_mK
        if abs(d) > 2 * np.hypot(one.kappa_err_W_mK, main.kappa_err_W_mK):
            flags.append(f"the one-component κ ({one.kappa_W_mK:.4g} ± {one.kappa_err_W_mK:.2g} "
                         f"W/m/K) differs from the multicomponent κ: it is NOT a valid "
                         "conductivity of this system")
    scan = []
    for f in (0.5 * fstar_THz, 2.0 * fstar_THz):
        if f <= freq[-1] and n * dt_ps * f >= MIN_FREQS_BELOW_FSTAR:
            e = cepstral_kappa(currents, dt_ps, volume_A3, temperature_K, f)
            scan.append((e.fstar_THz, e.kappa_W_mK, e.kappa_err_W_mK))
            if abs(e.kappa_W_mK - main.kappa_W_mK) > 2 * np.hypot(e.kappa_err_W_mK,
                                                                  main.kappa_err_W_mK):
                flags.append(f"κ depends on the cutoff: {e.kappa_W_mK:.4g} ± "
                             f"{e.kappa_err_W_mK:.2g} W/m/K at f* = {e.fstar_THz:.3g} THz")
    if main.kappa_err_W_mK > 0.3 * abs(main.kappa_W_mK):
        flags.append(f"σ/κ = {main.kappa_err_W_mK / abs(main.kappa_W_mK):.0%}: the run is too "
                     "short for a precise κ (σ falls as 1/sqrt(duration))")

    lag, run_k = running_integral(currents, dt_ps, volume_A3, temperature_K, max_lag_ps)
    run_1 = run_k if m == 1 else running_integral(J, dt_ps, volume_A3, temperature_K, max_lag_ps)[1]
    if plateau_window_ps is None:
        plateau_window_ps = (0.5 * lag[-1], lag[-1])
    a, b = (float(x) for x in plateau_window_ps)
    sel = (lag >= a) & (lag <= b)
    if not sel.any():
        raise InputError(f"plateau window {a:g}-{b:g} ps holds no lag of the running integral "
                         f"(0-{lag[-1]:g} ps)")
    kappa = main if (multicomponent or n_species == 1) else one
    plateau, spread = float(run_k[sel].mean()), float(run_k[sel].std())
    if abs(plateau - kappa.kappa_W_mK) > 3 * np.hypot(kappa.kappa_err_W_mK, spread):
        flags.append(
            f"the running integral's plateau ({plateau:.3g} W/m/K over {a:g}-{b:g} ps) differs "
            f"from the cepstral κ: a zero-frequency peak narrower than the cepstral filter "
            f"resolves (about f*/P* = {kappa.fstar_THz / (kappa.cutoffK + 1):.2g} THz) is "
            "underestimated (long-lived phonons), or the plateau is noise; run longer, try a "
            "lower f*, and look at the figure")
    return GreenKuboResult(
        kappa_W_mK=kappa.kappa_W_mK, kappa_err_W_mK=kappa.kappa_err_W_mK,
        method="multicomponent" if multicomponent else "one-component", species=species,
        n_currents=m, kappa_one_component_W_mK=one.kappa_W_mK,
        kappa_one_component_err_W_mK=one.kappa_err_W_mK, fstar_THz=main.fstar_THz,
        fstar_auto=fstar_auto, cutoffK=main.cutoffK, n_freqs_below_fstar=main.n_freqs_below_fstar,
        fstar_scan=tuple(scan), kappa_plateau_W_mK=plateau,
        kappa_plateau_spread_W_mK=spread, plateau_window_ps=(a, b),
        n_samples=n, dt_ps=float(dt_ps), duration_ps=n * float(dt_ps),
        temperature_K=float(temperature_K), volume_A3=float(volume_A3), flags=tuple(flags),
        running_lag_ps=lag, running_kappa_W_mK=run_k, running_kappa_one_component_W_mK=run_1,
        provenance=provenance(**(inputs or {}), dt_ps=dt_ps, volume_A3=volume_A3,
                              temperature_K=temperature_K, fstar_THz=fstar_THz,
                              multicomponent=multicomponent, sportran=_sportran_version()))


def _sportran_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sportran")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"
