"""Reader of the heat-current file ``heatflux.dat`` written by the EMD driver.

Format (plain text, readable by sportran's ``table`` reader and by ``numpy.loadtxt``)::

    # mdargy heat current: ...                     (comment lines)
    # meta: {"format": "mdargy-heatflux", "version": 1, "dt_ps": 0.005, "volume_A3": ...,
    #        "type_elements": ["Cu", "P", "S"], "masses_amu": [...], ...}
    step time_ps J_eVA_ps[1] J_eVA_ps[2] J_eVA_ps[3] Jconv_eVA_ps[1..3] Jvir_eVA_ps[1..3]
         vsum_Cu_A_ps[1..3] vsum_P_A_ps[1..3] ...
    0 0 ...

``J`` is the extensive heat current J·V = Σ e_i v_i − Σ S_i·v_i (eV Å/ps, LAMMPS ``metal``),
``Jconv`` its convective part Σ e_i v_i, ``Jvir`` = J − Jconv, ``vsum_X`` the velocity sum of
species X (Å/ps). The reader checks that the samples are evenly spaced (no gap, no duplicate,
no change of the sampling interval) and raises :class:`~mdargy.errors.InputError` naming the
file and the first bad row otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from mdargy.errors import InputError
from mdargy.io.thermo import read_thermo_csv

HEATFLUX_NAME = "heatflux.dat"


@dataclasses.dataclass(frozen=True)
class HeatFluxSeries:
    """A heat-current time series and what the analysis needs to turn it into κ.

    Attributes
    ----------
    path : str
    step : ndarray (n,)
        LAMMPS step of each sample.
    time_ps : ndarray (n,)
    J_eVA_ps, Jconv_eVA_ps, Jvir_eVA_ps : ndarray (n, 3)
        Total, convective and virial heat current times volume.
    vsum_A_ps : ndarray (n_species, n, 3)
        Velocity sum of each species (order of ``species``).
    species : tuple of str
    n_atoms_per_species : tuple of int
    masses_amu : tuple of float
    dt_ps : float
        Sampling interval.
    volume_A3 : float
    temperature_K : float
        Mean production temperature from ``thermo.csv`` next to the file when present,
        else the target temperature recorded in the file (``temperature_source`` says which).
    temperature_source : str
    ensemble : str
        Production ensemble of the run (``nve`` is the right one for Green-Kubo).
    meta : dict
        The file's metadata line.
    """

    path: str
    step: np.ndarray
    time_ps: np.ndarray
    J_eVA_ps: np.ndarray
    Jconv_eVA_ps: np.ndarray
    Jvir_eVA_ps: np.ndarray
    vsum_A_ps: np.ndarray
    species: tuple
    n_atoms_per_species: tuple
    masses_amu: tuple
    dt_ps: float
    volume_A3: float
    temperature_K: float
    temperature_source: str
    ensemble: str
    meta: dict

    @property
    def n_samples(self) -> int:
        return int(self.time_ps.shape[0])

    @property
    def duration_ps(self) -> float:
        return self.n_samples * self.dt_ps


def _read_header(path: Path) -> tuple[dict, list[str], int]:
    meta, cols, n = None, None, 0
    with open(path, "r", encoding="utf-8") as fh:
        for line in fh:
            n += 1
            if line.startswith("#"):
                if line.startswith("# meta:"):
                    try:
                        meta = json.loads(line[len("# meta:"):])
                    except ValueError as exc:
                        raise InputError(f"unreadable metadata line ({exc})", path, n) from exc
                continue
            cols = line.split()
            break
    if meta is None or meta.get("format") != "mdargy-heatflux":
        raise InputError("not an mdargy heat-current file (no '# meta:' line with format "
                         "mdargy-heatflux)", path)
    if not cols or cols[:2] != ["step", "time_ps"]:
        raise InputError("missing the column line (step time_ps J_eVA_ps[1] ...)", path, n)
    return meta, cols, n


def mean_temperature(thermo_csv: str | os.PathLike) -> float | None:
    """Mean production temperature (K) of a run's ``thermo.csv``, or None without rows."""
    try:
        prod = read_thermo_csv(thermo_csv, stage="production")
    except InputError:
        return None
    T = prod.get("T_K")
    return float(np.mean(T)) if T is not None and len(T) else None


def read_heatflux(path: str | os.PathLike, temperature_K: float | None = None) -> HeatFluxSeries:
    """Read a heat-current file (or the ``heatflux.dat`` of a run directory).

    Parameters
    ----------
    path : path
        ``heatflux.dat`` or the EMD run directory holding it.
    temperature_K : float, optional
        Temperature to use; default: mean production T of ``thermo.csv`` beside the file,
        else the run's target temperature.

    Raises
    ------
    InputError
        Missing file, a wrong format, a gap, duplicate or change of sampling interval (naming
        the row), non-finite values, fewer than 2 samples.
    """
    path = Path(path)
    if path.is_dir():
        path = path / HEATFLUX_NAME
    if not path.is_file():
        raise InputError("heat-current file not found (was the EMD run made with "
                         "heat_every_fs > 0?)", path)
    meta, cols, n_head = _read_header(path)
    species = tuple(meta.get("type_elements", ()))
    expect = 11 + 3 * len(species)
    if len(cols) != expect:
        raise InputError(f"{len(cols)} columns in the column line, expected {expect} for the "
                         f"species {', '.join(species)}", path, n_head)
    try:
        data = np.loadtxt(path, comments="#", skiprows=n_head, ndmin=2)
    except ValueError as exc:
        raise InputError(f"unreadable data row ({exc})", path) from exc
    if data.shape[0] < 2:
        raise InputError(f"{data.shape[0]} sample(s): no time series", path)
    if data.shape[1] != expect:
        raise InputError(f"{data.shape[1]} columns, expected {expect}", path)
    if not np.all(np.isfinite(data)):
        bad = int(np.argwhere(~np.isfinite(data))[0, 0])
        raise InputError(f"non-finite value in data row {bad + 1}", path, n_head + bad + 1)
    step = data[:, 0].astype(np.int64)
    dstep = np.diff(step)
    every = int(meta.get("heat_every", dstep[0]))
    bad = np.flatnonzero(dstep != every)
    if bad.size:
        i = int(bad[0])
        kind = ("a duplicate or backwards step" if dstep[i] <= 0 else
                "a gap" if dstep[i] % every == 0 else "a change of the sampling interval")
        raise InputError(f"samples must be evenly spaced every {every} steps: {kind} between "
                         f"step {step[i]} and step {step[i + 1]}", path, n_head + i + 2)
    dt_ps = float(meta["dt_ps"])
    t = data[:, 1]
    if not np.allclose(np.diff(t), dt_ps, rtol=1e-6, atol=1e-9):
        raise InputError(f"time_ps is not spaced by dt_ps = {dt_ps} ps", path)
    T_src = "given"
    if temperature_K is None:
        T = mean_temperature(path.parent / "thermo.csv")
        if T is not None:
            temperature_K, T_src = T, "thermo.csv (mean production T)"
        else:
            temperature_K, T_src = float(meta["temperature_K"]), "target temperature of the run"
    ns = len(species)
    vsum = data[:, 11:].reshape(len(t), ns, 3).transpose(1, 0, 2).copy()
    return HeatFluxSeries(
        path=str(path), step=step, time_ps=t, J_eVA_ps=data[:, 2:5].copy(),
        Jconv_eVA_ps=data[:, 5:8].copy(), Jvir_eVA_ps=data[:, 8:11].copy(), vsum_A_ps=vsum,
        species=species, n_atoms_per_species=tuple(int(c) for c in meta.get("n_atoms_per_type", ())),
        masses_amu=tuple(float(m) for m in meta.get("masses_amu", ())), dt_ps=dt_ps,
        volume_A3=float(meta["volume_A3"]), temperature_K=float(temperature_K),
        temperature_source=T_src, ensemble=str(meta.get("ensemble", "unknown")), meta=meta)
