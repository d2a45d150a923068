"""Pluggable labelers for the Cu7PS6 training pipeline: any ASE calculator, chosen in a TOML file.

A labeler file has one ``[labeler]`` table: ``kind`` plus the settings of that kind. Runtime
options that do not change the numbers (the command that starts CP2K) go in ``[run]``.

``kind``:

* ``"cp2k"`` — Kohn–Sham DFT with CP2K (Quickstep, GPW) through ASE's CP2K calculator (the
  CP2K shell). Settings and defaults: :data:`CP2K_DEFAULTS` (PBEsol, non-spin-polarised,
  DZVP-MOLOPT-SR-GTH, GTH-PBE pseudopotentials, diagonalisation with Fermi–Dirac smearing and
  Broyden mixing, analytic stress). Every label says that **GTH-PBE pseudopotentials are used
  with the PBEsol functional**: CP2K's data files hold no PBEsol GTH set for Cu, P and S, so
  this is an approximation (a pseudopotential generated for another functional).
* ``"sevennet"`` — SevenNet-0 (``pip install sevenn``; a universal ML potential, not DFT).
* ``"lammps"`` — an MTP in LAMMPS through mdargy (``mtp`` = the ``.mtp`` file, ``elements``
  = its species order, ``style`` = ``"mtp"`` or ``"mlip"``).
* ``"ase:<module>:<Class>"`` — any ASE calculator class; the other keys of ``[labeler]`` are
  its keyword arguments (e.g. ``kind = "ase:ase.calculators.emt:EMT"``).

Example (``scripts/cp2k/pbesol_gamma.toml``)::

    [labeler]
    kind = "cp2k"
    cutoff_Ry = 400
    rel_cutoff_Ry = 50

    [run]
    command = "env OMP_NUM_THREADS=1 cp2k_shell"

The settings, with every default filled in, are what :func:`settings_digest` hashes; a label
directory never mixes two digests (see ``label.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import resource
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.cp2k import CP2K
from ase.stress import full_3x3_to_voigt_6_stress
from ase.units import Rydberg

from mdargy.errors import InputError, MdargyError
from mdargy.lammps.runtime import self_comm
from mdargy.potentials.mtp.evaluate import evaluate_atoms

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

#: CP2K settings and their defaults (units in the names).
CP2K_DEFAULTS = {
    "xc": "PBESOL",                       # PBESOL or PBE (CP2K's native PBE with PARAMETRIZATION)
    "basis_set": "DZVP-MOLOPT-SR-GTH",
    "basis_set_file": "BASIS_MOLOPT",
    "pseudo_potential": "GTH-PBE",
    "potential_file": "POTENTIAL",
    "cutoff_Ry": 400.0,                   # finest plane-wave grid
    "rel_cutoff_Ry": 50.0,                # Gaussian-to-grid mapping
    "eps_scf": 1.0e-6,                    # SCF convergence (Hartree, CP2K's measure)
    "max_scf": 100,
    "smearing_K": 300.0,                  # Fermi–Dirac electronic temperature
    "added_mos": 50,                      # empty orbitals for the smearing
    "mixing_alpha": 0.2,                  # Broyden mixing
    "mixing_nbuffer": 8,
    "kpoints": [1, 1, 1],                 # [1, 1, 1] = Γ only; otherwise Monkhorst–Pack
    "stress": True,                       # analytical stress tensor
    "charge": 0,
}
CP2K_XC = {"PBESOL": "PBESOL", "PBE": "ORIG"}
CP2K_NOTE = ("PBEsol functional with GTH-PBE pseudopotentials: CP2K's data files have no PBEsol "
             "GTH pseudopotentials for Cu, P and S, so the PBE ones are used. This is an "
             "approximation (pseudopotential and functional inconsistent); the paper used PBEsol "
             "throughout. Non-spin-polarised, GPW, Fermi-Dirac smearing.")
#: Runtime options ([run]): they do not change the numbers and are not in the digest.
#: ``set_pos_file`` passes positions through a file (CP2K >= 2024.2; for large MPI runs).
RUN_DEFAULTS = {"command": None, "set_pos_file": False}


@dataclass(frozen=True)
class LabelerConfig:
    """A parsed labeler file: ``kind``, ``settings`` (defaults filled in) and ``run`` options."""

    kind: str
    settings: dict
    run: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def digest(self) -> str:
        return settings_digest(self.kind, self.settings)

    def record(self) -> dict:
        """What every label records about its labeler."""
        rec = {"kind": self.kind, "settings": self.settings, "digest": self.digest,
               "is_dft": self.kind == "cp2k"}
        if self.kind == "cp2k":
            rec["note"] = CP2K_NOTE
        elif self.kind == "sevennet":
            rec["note"] = "SevenNet-0 universal ML potential; NOT DFT"
        return rec


#: Settings that locate a file whose content is hashed separately (not in the digest).
PATH_KEYS = {"mtp"}


def settings_digest(kind: str, settings: dict) -> str:
    """sha256 (first 16 hex digits) of the kind and settings, keys sorted (file paths left out:
    the file's own sha256 is in the settings)."""
    kept = {k: v for k, v in settings.items() if k not in PATH_KEYS}
    blob = json.dumps({"kind": kind, "settings": kept}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_config(data: dict, path=None) -> LabelerConfig:
    """Check a labeler table (already parsed from TOML) and fill in the defaults."""
    if "labeler" not in data or not isinstance(data["labeler"], dict):
        raise InputError("missing [labeler] table", path)
    unknown_top = set(data) - {"labeler", "run"}
    if unknown_top:
        raise InputError(f"unknown table(s) {sorted(unknown_top)}; expected [labeler] and [run]",
                         path)
    lab = dict(data["labeler"])
    kind = lab.pop("kind", None)
    if not isinstance(kind, str):
        raise InputError("[labeler] kind is missing; use 'cp2k', 'sevennet', 'lammps' or "
                         "'ase:<module>:<Class>'", path)
    run = dict(RUN_DEFAULTS)
    extra = set(data.get("run", {})) - set(RUN_DEFAULTS)
    if extra:
        raise InputError(f"[run]: unknown key(s) {sorted(extra)}; known: {sorted(RUN_DEFAULTS)}",
                         path)
    run.update(data.get("run", {}))
    if kind == "cp2k":
        settings = _check_keys(lab, CP2K_DEFAULTS, "[labeler] (cp2k)", path)
        if str(settings["xc"]).upper() not in CP2K_XC:
            raise InputError(f"[labeler] xc = {settings['xc']!r}: use one of {sorted(CP2K_XC)}",
                             path)
        settings["xc"] = str(settings["xc"]).upper()
        kp = settings["kpoints"]
        if (not isinstance(kp, list) or len(kp) != 3
                or not all(isinstance(k, int) and k >= 1 for k in kp)):
            raise InputError(f"[labeler] kpoints = {kp!r}: three integers >= 1", path)
        for key in ("cutoff_Ry", "rel_cutoff_Ry", "eps_scf", "smearing_K", "mixing_alpha"):
            if not isinstance(settings[key], (int, float)) or settings[key] <= 0:
                raise InputError(f"[labeler] {key} = {settings[key]!r}: a positive number", path)
            settings[key] = float(settings[key])
    elif kind == "sevennet":
        settings = _check_keys(lab, {"model": "7net-0", "device": "cpu"}, "[labeler] (sevennet)",
                               path)
    elif kind == "lammps":
        settings = _check_keys(lab, {"mtp": None, "elements": None, "style": "mtp"},
                               "[labeler] (lammps)", path)
        if not settings["mtp"] or not isinstance(settings["elements"], list):
            raise InputError("[labeler] kind 'lammps' needs mtp = '<file.mtp>' and "
                             "elements = [species order]", path)
        mtp = Path(settings["mtp"])
        if not mtp.is_absolute() and path is not None and not mtp.exists():
            mtp = Path(path).resolve().parent / mtp
        if not mtp.exists():
            raise InputError(f"[labeler] mtp = {settings['mtp']!r}: no such file", path)
        settings["mtp_sha256"] = hashlib.sha256(mtp.read_bytes()).hexdigest()
        settings["mtp"] = str(mtp.resolve())
    elif kind.startswith("ase:"):
        if not re.fullmatch(r"ase:[\w.]+:\w+", kind):
            raise InputError(f"[labeler] kind = {kind!r}: write 'ase:<module>:<Class>'", path)
        settings = lab
    else:
        raise InputError(f"[labeler] kind = {kind!r}: use 'cp2k', 'sevennet', 'lammps' or "
                         "'ase:<module>:<Class>'", path)
    return LabelerConfig(kind, settings, run, str(path) if path is not None else None)


def load_config(path) -> LabelerConfig:
    """Read and check a labeler TOML file (errors name the file and the key)."""
    p = Path(path)
    if not p.exists():
        raise InputError("labeler file not found", p)
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", p) from None
    return parse_config(data, p)


def _check_keys(given: dict, defaults: dict, where: str, path) -> dict:
    unknown = set(given) - set(defaults)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(defaults)}",
                         path)
    out = dict(defaults)
    out.update(given)
    return out


# ---------------------------------------------------------------------------- CP2K


def cp2k_input_template(s: dict) -> str:
    """The part of the CP2K input that ASE's calculator does not write itself.

    k-points (when not Γ only): a Monkhorst–Pack grid without point-group symmetry; CP2K
    still pairs k and −k (time reversal), so 2×2×2 runs 4 k-points.

    ASE adds the cell, coordinates, kinds (basis and pseudopotential), CUTOFF, MAX_SCF,
    the basis/potential file names and the stress keywords; this template adds REL_CUTOFF,
    the SCF (diagonalisation, Fermi–Dirac smearing, Broyden mixing), the XC functional and
    the k-points.
    """
    kp = s["kpoints"]
    kpoints = ("" if list(kp) == [1, 1, 1] else
               f"""    &KPOINTS
      SCHEME MONKHORST-PACK {kp[0]} {kp[1]} {kp[2]}
      SYMMETRY F
    &END KPOINTS
""")
    return f"""&FORCE_EVAL
  &DFT
    &MGRID
      REL_CUTOFF [Ry] {s['rel_cutoff_Ry']}
      NGRIDS 4
    &END MGRID
    &QS
      METHOD GPW
    &END QS
{kpoints}    &SCF
      SCF_GUESS ATOMIC
      EPS_SCF {s['eps_scf']:.3e}
      ADDED_MOS {int(s['added_mos'])}
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &SMEAR ON
        METHOD FERMI_DIRAC
        ELECTRONIC_TEMPERATURE [K] {s['smearing_K']}
      &END SMEAR
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA {s['mixing_alpha']}
        NBUFFER {int(s['mixing_nbuffer'])}
      &END MIXING
      &PRINT
        &RESTART OFF
        &END RESTART
      &END PRINT
    &END SCF
    &XC
      &XC_FUNCTIONAL
        &PBE
          PARAMETRIZATION {CP2K_XC[s['xc']]}
        &END PBE
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
&END FORCE_EVAL
"""


def cp2k_command(run: dict) -> str:
    """The command that starts the CP2K shell: ``[run] command`` or ``$ASE_CP2K_COMMAND`` or
    the first of ``cp2k_shell``, ``cp2k.ssmp -s``, ``cp2k.psmp -s`` on the PATH."""
    if run.get("command"):
        return run["command"]
    if os.environ.get("ASE_CP2K_COMMAND"):
        return os.environ["ASE_CP2K_COMMAND"]
    for exe, cmd in (("cp2k_shell", "cp2k_shell"), ("cp2k.ssmp", "cp2k.ssmp -s"),
                     ("cp2k.psmp", "cp2k.psmp -s")):
        if shutil.which(exe):
            return cmd
    raise MdargyError("no CP2K found (cp2k_shell, cp2k.ssmp or cp2k.psmp on the PATH); "
                      "install it with scripts/cp2k/install.sh or set [run] command")


class CP2KLabeler:
    """One CP2K single point per configuration, in its own work directory.

    A fresh CP2K shell per configuration keeps every output file complete and whole; its
    start-up (about a second) is nothing next to a 56-atom single point (minutes).
    """

    def __init__(self, cfg: LabelerConfig):
        self.cfg = cfg
        self.command = cp2k_command(cfg.run)

    def __call__(self, atoms, workdir: Path) -> tuple[dict, dict]:
        """Label ``atoms``: returns (results, meta): energy (eV), forces (eV/Å), stress (eV/Å³,
        ASE Voigt order) and SCF/timing facts parsed from CP2K's output."""
        s = self.cfg.settings
        workdir.mkdir(parents=True, exist_ok=True)
        out_file = workdir / "cp2k.out"
        if out_file.exists():
            out_file.unlink()  # a previous, interrupted attempt
        at = atoms.copy()
        t0 = time.time()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        calc = CP2K(command=self.command, label=str(workdir / "cp2k"), xc=None,
                    basis_set=s["basis_set"], basis_set_file=s["basis_set_file"],
                    pseudo_potential=s["pseudo_potential"], potential_file=s["potential_file"],
                    cutoff=s["cutoff_Ry"] * Rydberg, max_scf=int(s["max_scf"]),
                    charge=s["charge"], uks=False, stress_tensor=bool(s["stress"]),
                    inp=cp2k_input_template(s), print_level="LOW",
                    set_pos_file=bool(self.cfg.run.get("set_pos_file")))
        try:
            at.calc = calc
            e = float(at.get_potential_energy())
            f = np.array(at.get_forces())
            st = np.array(at.get_stress(voigt=True)) if s["stress"] else None
        finally:
            calc.close()
        wall = time.time() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        meta = parse_cp2k_output(out_file)
        meta["wall_s"] = wall
        # CPU time of the CP2K processes (children waited for): core-seconds of the label
        meta["cpu_s"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if not meta["scf_converged"]:
            raise MdargyError(f"{out_file}: SCF did not converge in {s['max_scf']} steps "
                              f"({meta['scf_steps']} done); not labelled")
        return {"energy": e, "forces": f, "stress": st}, meta


def parse_cp2k_output(path: Path) -> dict:
    """SCF steps, convergence, version and CPU time from a CP2K output file."""
    text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
    m = re.search(r"SCF run converged in\s+(\d+) steps", text)
    steps_nc = re.findall(r"Leaving inner SCF loop after reaching\s+(\d+) steps", text)
    version = re.search(r"CP2K\| version string:\s+(.+)", text)
    cpu = re.findall(r"^ CP2K\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text, re.M)
    return {
        "scf_converged": bool(m) and "SCF run NOT converged" not in text,
        "scf_steps": int(m.group(1)) if m else (int(steps_nc[-1]) if steps_nc else None),
        "cp2k_version": version.group(1).strip() if version else None,
        "cp2k_total_time_s": float(cpu[-1]) if cpu else None,
    }


# ---------------------------------------------------------------------------- others


class ASELabeler:
    """A labeler around any ASE calculator (made once, reused for every configuration)."""

    def __init__(self, calc, stress: bool = True, versions: dict | None = None):
        self.calc = calc
        self.stress = stress
        self.versions = versions or {}

    def __call__(self, atoms, workdir: Path) -> tuple[dict, dict]:
        at = atoms.copy()
        at.calc = self.calc
        t0 = time.time()
        e = float(at.get_potential_energy())
        f = np.array(at.get_forces())
        st = None
        if self.stress:
            try:
                st = np.array(at.get_stress(voigt=True))
            except Exception:  # noqa: BLE001  (a calculator without stress: labels without it)
                st = None
        return ({"energy": e, "forces": f, "stress": st},
                {"wall_s": time.time() - t0, **self.versions})


class MTPCalculatorLammps(Calculator):
    """An ASE calculator for an MTP evaluated in LAMMPS (mdargy's ``evaluate_atoms``)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, mtp, elements, style="mtp"):
        super().__init__()
        self.mtp, self.elements, self.style = str(mtp), list(elements), style

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        e, f, s = self.efs(self.atoms)
        self.results = {"energy": float(e), "free_energy": float(e), "forces": np.asarray(f),
                        "stress": np.asarray(s)}

    def efs(self, atoms):
        r = evaluate_atoms(self.mtp, atoms, self.elements, comm=self_comm(), style=self.style)
        return r.energy_eV, r.forces_eV_A, full_3x3_to_voigt_6_stress(r.stress_eV_A3)


class LammpsLabeler:
    def __init__(self, cfg: LabelerConfig):
        s = cfg.settings
        self.calc = MTPCalculatorLammps(s["mtp"], s["elements"], s["style"])

    def __call__(self, atoms, workdir: Path) -> tuple[dict, dict]:
        t0 = time.time()
        e, f, s = self.calc.efs(atoms)
        return ({"energy": float(e), "forces": np.asarray(f), "stress": np.asarray(s)},
                {"wall_s": time.time() - t0})


def make_labeler(cfg: LabelerConfig):
    """The labeler of ``cfg``: a callable ``(atoms, workdir) -> (results, meta)``."""
    if cfg.kind == "cp2k":
        return CP2KLabeler(cfg)
    if cfg.kind == "lammps":
        return LammpsLabeler(cfg)
    if cfg.kind == "sevennet":
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise MdargyError("labeler kind 'sevennet' needs `pip install sevenn` (with torch, "
                              "CPU build) in this environment") from exc
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        return ASELabeler(SevenNetCalculator(cfg.settings["model"],
                                             device=cfg.settings["device"]),
                          versions={"sevenn": metadata.version("sevenn"),
                                    "torch": torch.__version__})
    _, module, cls = cfg.kind.split(":")
    try:
        klass = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"[labeler] kind = {cfg.kind!r}: cannot import {module}.{cls} ({exc})",
                         cfg.path) from None
    known = getattr(klass, "default_parameters", None)
    if isinstance(known, dict) and known:  # ASE calculators accept unknown keywords silently
        unknown = set(cfg.settings) - set(known)
        if unknown:
            raise InputError(f"[labeler] {cfg.kind!r}: unknown key(s) {sorted(unknown)}; "
                             f"known: {sorted(known)}", cfg.path)
    try:
        calc = klass(**cfg.settings)
    except TypeError as exc:
        raise InputError(f"[labeler] settings of {cfg.kind!r}: {exc}", cfg.path) from None
    return ASELabeler(calc)
