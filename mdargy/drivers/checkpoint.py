"""Run directories, checkpoints and the segment loop shared by the EMD and NEMD drivers.

A run is a list of *stages* (equilibration, production, ...), each advanced in *segments* of
``run N`` commands. Between segments the driver reads thermo values and samples on all ranks,
and rank 0 writes outputs. Every ``checkpoint_every_ps`` the state is saved:

1. ``write_restart checkpoints/ckpt-<step>.restart`` (collective);
2. ``checkpoints/state.json`` (rank 0, atomic rename) naming that restart file, the stage and
   step reached, the accumulated series, and how far each output file is valid (frames, bytes);
3. older restart files are removed.

A kill at any moment leaves a ``state.json`` naming a complete restart file. Re-running the same
command reads it, restarts LAMMPS from the restart file, cuts every output back to the recorded
length (no duplicate, no missing frames) and continues. ``result.json`` is written last; its
presence (as valid JSON) means the run is done and it is never overwritten
(:class:`AlreadyDoneError`).

What a resume trusts is verified first, and anything that does not match is refused with a
message naming the file and the ways forward (nothing is padded, nothing is deleted):

* **Run identity** (``identity.json``, written before anything else): a SHA-256 of the whole
  normalised configuration (all keys but ``output_dir``), the checksums of the structure and
  potential files (and of the MTP plugin) and the versions of mdargy and LAMMPS. A resumed or
  re-run command with another identity is refused, listing the differing keys. ``fresh=True``
  (``--fresh``) moves the existing outputs aside into ``superseded-<time>/`` and starts again.
* **Outputs**: every checkpoint records, for each output file the driver registers
  (``outputs=`` of :func:`run_driver`, e.g. the trajectories), its length and the SHA-256 of
  every byte range appended since the previous checkpoint. On resume each file must hold at
  least the recorded bytes with the recorded checksums; it is then cut back to exactly that
  length (never lengthened). A missing, shorter or altered file is refused.
* **Restart file**: its SHA-256 is recorded and checked before LAMMPS reads it (a garbled
  restart file can make ``read_restart`` loop for ever).
* The previous checkpoint (``state.prev.json`` and its restart file) is kept: when the latest
  one fails verification but the previous one passes, ``recover=True`` (``--recover``) resumes
  from it.
* Output folders: no file of the run may be a symbolic link (a write would go to its target),
  and a fresh run refuses a folder holding output files that no run of ours owns (no
  ``identity.json``).
* A finished run records the length and SHA-256 of its outputs (``checkpoints/manifest.json``);
  running the finished command again verifies them before it reports "done".

Stochastic fixes are re-created every segment with a seed derived from the run seed and the
segment's first step, so an interrupted and resumed run draws the same random numbers as an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mdargy.drivers.common import (  # noqa: F401  (THERMO_COLUMNS: the drivers import it here)
    GUARD_FMAX_EV_A,
    GUARD_VOLUME_RATIO,
    THERMO_COLUMNS,
    THERMO_KEYS,
    THERMO_LAST_NAMES,
    driver_styles,
    prepare_structure,
)
from mdargy.errors import AlreadyDoneError, InputError, MdargyError, SimulationError
from mdargy.io.atomic import atomic_write_bytes, atomic_write_json
from mdargy.io.integrity import extend_record, file_sha256, record_problem
from mdargy.io.runprogress import PROGRESS_NAME, ProgressFile
from mdargy.lammps.runtime import (create_lammps, get_comm, plugin_files, require_styles,
                                   run_commands)
from mdargy.potentials.spec import lammps_path
from mdargy.results import software_versions

STATE_VERSION = 2
#: checkpoint state versions this mdargy resumes (version 1 recorded no output checksums: its
#: trajectories cannot be verified, so it is refused with the ways forward)
_READABLE_STATE_VERSIONS = (2,)
IDENTITY_NAME = "identity.json"
IDENTITY_FORMAT = "mdargy-run-identity/1"
#: files any run of ours writes at the top of its directory; a fresh run refuses a folder that
#: holds one of them (or a registered output) without an ``identity.json`` of ours.
RUN_FILES = ("result.json", "metadata.json", "thermo.csv", "structure.data", "final.data",
             "final.extxyz", "log.lammps", "blocks.csv", "profiles.csv", "profile.csv",
             "profile.png", PROGRESS_NAME)



def derived_seed(seed: int, *salt: int) -> int:
    """A LAMMPS-valid seed (1 .. 899999999) derived deterministically from ``seed`` and ``salt``."""
    h = int(seed) & 0xFFFFFFFF
    for s in salt:
        h = (h * 1_000_003 + int(s) * 7919 + 0x9E3779B1) & 0xFFFFFFFFFFFF
    return int(h % 899_999_998) + 1


class _Broadcast:
    """Run a function on rank 0 and re-raise its mdargy error (or return its value) on all ranks."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()

    def __call__(self, fn: Callable[[], Any]):
        res, err = None, None
        if self.rank == 0:
            try:
                res = fn()
            except MdargyError as exc:
                err = exc
            except Exception as exc:  # unexpected: still make every rank stop
                err = MdargyError(f"{type(exc).__name__}: {exc}")
        res, err = self.comm.bcast((res, err), root=0)
        if err is not None:
            raise err
        return res


class RunDirectory:
    """Files of one run directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        self.state_path = self.ckpt_dir / "state.json"
        self.prev_state_path = self.ckpt_dir / "state.prev.json"
        self.result_path = self.path / "result.json"
        self.identity_path = self.path / IDENTITY_NAME

    def read_result(self) -> dict | None:
        """The finished result as a dict, or None when ``result.json`` is absent or damaged."""
        try:
            d = json.loads(self.result_path.read_text())
        except (OSError, ValueError):
            return None
        return d if isinstance(d, dict) else None

    def is_done(self) -> bool:
        """A run is done when ``result.json`` exists and is valid JSON (a truncated one is not)."""
        return self.read_result() is not None

    def read_identity(self) -> dict | None:
        if not self.identity_path.exists() and not self.identity_path.is_symlink():
            return None
        try:
            d = json.loads(self.identity_path.read_text())
            if not isinstance(d, dict) or d.get("format") != IDENTITY_FORMAT:
                raise ValueError("not an mdargy run identity")
        except (OSError, ValueError) as exc:
            raise InputError(f"damaged run identity ({exc}): cannot tell which settings the run "
                             "here was made with. Use a new output directory, or start afresh "
                             "here with --fresh (the existing outputs are moved aside to "
                             "superseded-<time>/, nothing is deleted)", self.identity_path) from None
        return d

    def _read_state_file(self, path: Path) -> dict:
        try:
            state = json.loads(path.read_text())
            if not isinstance(state, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable checkpoint state ({exc})", path) from None
        if state.get("version") not in _READABLE_STATE_VERSIONS:
            raise InputError(f"checkpoint written by another mdargy version (state version "
                             f"{state.get('version')}, this one reads "
                             f"{', '.join(map(str, _READABLE_STATE_VERSIONS))}): its outputs "
                             "cannot be verified. Finish the run with the mdargy that started "
                             "it, or " + _ways_forward()[len("Ways forward: "):], path)
        for key in ("restart", "step", "stage", "stage_step"):
            if key not in state:
                raise InputError(f"checkpoint state lacks {key!r}", path)
        rf = self.ckpt_dir / str(state["restart"])
        if not rf.exists():
            raise InputError(f"checkpoint restart file {rf.name} is missing", path)
        return state

    def load_state(self) -> dict | None:
        """The latest checkpoint state, or None when there is none. A damaged one raises
        :class:`InputError` (use :meth:`load_states` to see the previous one too)."""
        if not self.state_path.exists():
            return None
        return self._read_state_file(self.state_path)

    def load_states(self) -> list[tuple[dict | None, str | None, Path]]:
        """``[(state, problem, path)]`` for the latest and the previous checkpoint that exist."""
        out = []
        for p in (self.state_path, self.prev_state_path):
            if not p.exists():
                continue
            try:
                out.append((self._read_state_file(p), None, p))
            except InputError as exc:
                out.append((None, str(exc), p))
        return out

    def restart_file(self, step: int) -> Path:
        return self.ckpt_dir / f"ckpt-{int(step)}.restart"

    def prune(self, *keep: str) -> None:
        for p in self.ckpt_dir.glob("ckpt-*.restart*"):
            if p.name not in keep:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass

    # -- what the run owns -------------------------------------------------------------
    def owned_paths(self, outputs=()) -> list[Path]:
        """Files and folders of this directory that a run of ours writes."""
        names = list(RUN_FILES) + [str(o) for o in outputs] + [IDENTITY_NAME, "checkpoints"]
        paths = [self.path / n for n in names]
        paths += sorted(self.path.glob("log.resume-*.lammps"))
        return paths

    def refuse_symlinks(self, outputs=()) -> None:
        """Refuse when a file the run writes is a symbolic link (its target would be written)."""
        links = [p for p in self.owned_paths(outputs) if p.is_symlink()]
        if self.ckpt_dir.is_dir() and not self.ckpt_dir.is_symlink():
            links += [p for p in self.ckpt_dir.iterdir() if p.is_symlink()]
        if links:
            desc = ", ".join(f"{p.relative_to(self.path)} -> {os.readlink(p)}" for p in links)
            raise InputError(f"refusing to write through symbolic link(s) {desc}: mdargy never "
                             "writes outside its output folder. Remove the link(s) or use "
                             "another output directory", self.path)

    def foreign_files(self, outputs=()) -> list[str]:
        """Output files present here although no run of ours owns the folder."""
        return [p.name for p in self.owned_paths(outputs)
                if p.name not in (IDENTITY_NAME,) and (p.exists() or p.is_symlink())]

    def move_aside(self, outputs=()) -> Path | None:
        """Move every file a run of ours writes into ``superseded-<UTC time>/``; nothing is
        deleted. Returns that folder (None when there was nothing to move)."""
        present = [p for p in self.owned_paths(outputs) if p.exists() or p.is_symlink()]
        if not present:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.path / f"superseded-{stamp}"
        k = 1
        while dest.exists():
            k += 1
            dest = self.path / f"superseded-{stamp}-{k}"
        dest.mkdir()
        for p in present:
            os.replace(p, dest / p.name)
        return dest


# -- run identity --------------------------------------------------------------------------
def _plugin_checksum() -> str | None:
    try:
        files = list(plugin_files())
    except Exception:
        return None
    return ",".join(f"{p.name}:{file_sha256(p)[:16]}" for p in files) or None


def run_identity(config) -> dict:
    """The identity of a run: what changes its results.

    The normalised configuration (``config.identity_dict()``: the settings as the first format
    named them, so that runs begun before the keys were renamed resume; without
    ``output_dir``; file paths
    replaced by the SHA-256 of the file contents), the versions of mdargy and LAMMPS and, for
    the ``mtp`` pair style, the checksum of the compiled plugin. ``sha256`` hashes all of it
    (canonical JSON).
    """
    cfg = config.identity_dict()
    cfg.pop("output_dir", None)
    files = {}
    s = Path(str(cfg.get("structure", "")))
    if s.is_file():
        files["structure"] = file_sha256(s)
    pot = dict(cfg.get("potential") or {})
    pot.pop("base_dir", None)
    try:
        resolved = config.potential.resolved_files()
    except MdargyError:
        resolved = []
    for name, p in zip(pot.get("files") or (), resolved):
        if Path(p).is_file():
            files[f"potential:{Path(str(name)).name}"] = file_sha256(p)
    # where the files are does not change results, what they hold does (``files`` above)
    pot["files"] = [Path(str(f)).name for f in pot.get("files") or ()]
    cfg["potential"] = pot
    cfg["structure"] = Path(str(cfg.get("structure", ""))).name
    versions = {k: v for k, v in _software_versions_for_identity().items()}
    if pot.get("kind") == "mtp":
        versions["mtp_plugin"] = _plugin_checksum()
    body = {"config": cfg, "files": files, "versions": versions}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {"format": IDENTITY_FORMAT, "sha256": hashlib.sha256(text.encode()).hexdigest(), **body}


def _software_versions_for_identity() -> dict:
    v = software_versions()
    return {k: v.get(k) for k in ("mdargy", "lammps")}


def _flatten(d, prefix="") -> dict:
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        if not d and prefix:
            out[prefix[:-1]] = {}
    else:
        out[prefix[:-1]] = d
    return out


def identity_differences(old: dict, new: dict) -> list[str]:
    """``key: old -> new`` for every differing entry of two identities."""
    a = _flatten({k: old.get(k) for k in ("config", "files", "versions")})
    b = _flatten({k: new.get(k) for k in ("config", "files", "versions")})
    diffs = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            key = k.split(".", 1)[1] if k.startswith("config.") else k
            va, vb = a.get(k, "(absent)"), b.get(k, "(absent)")
            if isinstance(va, str) and len(va) == 64 and isinstance(vb, str):
                va, vb = va[:12] + "...", vb[:12] + "..."
            diffs.append(f"{key}: {va!r} here -> {vb!r} now")
    return diffs


def _ways_forward() -> str:
    return ("Ways forward: run with another output directory (-o NEW_DIR / output_dir), or start "
            "afresh here with --fresh (fresh=True): the existing outputs are moved aside to "
            "superseded-<time>/, nothing is deleted")


def refuse_other_identity(rundir: RunDirectory, old: dict, new: dict, what: str) -> None:
    if old.get("sha256") == new.get("sha256"):
        return
    diffs = identity_differences(old, new) or ["(the identity hashes differ)"]
    raise InputError(f"{what} was made with other settings; refusing to mix them. Differing: "
                     + "; ".join(diffs) + ". " + _ways_forward(), rundir.path)


# -- output integrity ---------------------------------------------------------------------
def record_outputs(rundir: RunDirectory, names, previous: dict | None) -> dict:
    """Integrity records (:mod:`mdargy.io.integrity`) of the registered output files (rank 0,
    after they are flushed); only the bytes appended since ``previous`` are read."""
    previous = previous or {}
    return {name: extend_record(rundir.path / name, previous.get(name)) for name in names}


def output_problems(rundir: RunDirectory, state: dict) -> list[str]:
    """What does not match the checkpoint ``state``: outputs and the restart file (rank 0)."""
    problems = []
    rf = rundir.ckpt_dir / str(state["restart"])
    want = state.get("restart_sha256")
    if want is not None:
        if not rf.exists():
            problems.append(f"restart file {rf.name} is missing")
        elif file_sha256(rf) != want:
            problems.append(f"restart file {rf.name} is damaged (its SHA-256 differs from the "
                            "one recorded when it was written)")
    for name, rec in (state.get("outputs") or {}).items():
        problem = record_problem(rundir.path / name, rec, f"the checkpoint at step {state['step']}")
        if problem:
            problems.append(problem)
    return problems


#: what a finished run's manifest leaves out (informative, or needed only to resume)
_NOT_IN_MANIFEST = ("log.lammps", "profile.png", "checkpoints", IDENTITY_NAME)


def write_manifest(rundir: RunDirectory, outputs=()) -> None:
    """Record length and SHA-256 of every output of a finished run (``checkpoints/
    manifest.json``, rank 0): a re-run of the finished command then verifies them instead of
    saying "done" over damaged files."""
    files = {}
    for p in rundir.owned_paths(outputs):
        if p.name in _NOT_IN_MANIFEST or p.name.startswith("log.") or not p.is_file():
            continue
        files[p.name] = {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
    rundir.ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(rundir.ckpt_dir / "manifest.json", {"files": files})


def manifest_problems(rundir: RunDirectory) -> list[str]:
    """Outputs of a finished run that are missing or changed since it finished."""
    try:
        files = json.loads((rundir.ckpt_dir / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for name, rec in files.items():
        p = rundir.path / name
        if p.is_symlink():
            out.append(f"{name} is a symbolic link")
        elif not p.is_file():
            out.append(f"{name} is missing")
        elif p.stat().st_size != rec.get("bytes") or file_sha256(p) != rec.get("sha256"):
            out.append(f"{name} changed ({p.stat().st_size} bytes, {rec.get('bytes')} when the "
                       "run finished)")
    return out


def cut_outputs(rundir: RunDirectory, state: dict) -> None:
    """Cut every registered output back to the length the checkpoint recorded (never longer).
    A file recorded empty was begun after the checkpoint: it is removed."""
    for name, rec in (state.get("outputs") or {}).items():
        p = rundir.path / name
        need = int(rec.get("bytes", 0))
        if not p.exists():
            continue
        if need == 0:
            p.unlink()
        elif p.stat().st_size > need:
            os.truncate(p, need)


class Engine:
    """A LAMMPS instance on a communicator, with the segment loop and checkpointing.

    Parameters
    ----------
    lmp : lammps.lammps
    comm : mpi4py communicator
    rundir : RunDirectory
    config : EMDConfig or NEMDConfig
    progress : bool
        Show a progress bar on rank 0.
    """

    def __init__(self, lmp, comm, rundir: RunDirectory, config, progress: bool = True,
                 outputs=(), identity: dict | None = None, state: dict | None = None):
        self.lmp = lmp
        #: output files (names in the run directory) whose length and checksums every
        #: checkpoint records and every resume verifies
        self.outputs = tuple(outputs)
        self.identity = identity
        self._output_records = dict((state or {}).get("outputs") or {})
        self.comm = comm
        self.rank = comm.Get_rank()
        self.rundir = rundir
        self.config = config
        self.n_atoms = int(lmp.get_natoms())
        self.need_setup = True
        self.checkpoints_written = 0
        self._bar = None
        self.progress = progress and self.rank == 0
        #: step progress for readers in other processes (a campaign's ETA), rank 0 only
        self.progress_file = ProgressFile(rundir.path / PROGRESS_NAME) if self.rank == 0 else None
        #: test hook: raise KeyboardInterrupt after this many checkpoints (simulated kill)
        self.stop_after_checkpoints = int(os.environ.get("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", "0"))

    # -- commands ------------------------------------------------------------------------
    def commands(self, text: str | list[str]) -> None:
        run_commands(self.lmp, text)
        self.need_setup = True

    def run(self, n: int, stage: str, extra: str = "") -> dict:
        """Run ``n`` steps, check for a blow-up, return the thermo values.

        ``extra`` is added to the ``run`` command (e.g. ``start S stop E``).
        """
        pre = "yes" if self.need_setup else "no"
        if not self.n_atoms:
            self.n_atoms = int(self.lmp.get_natoms())
        try:
            self.lmp.command(f"run {int(n)} {extra} pre {pre} post no")
        except Exception as exc:
            msg = str(exc).strip()
            last = getattr(self, "last_checkpoint_step", None)
            keep = f"; the last good checkpoint (step {last}) is kept" if last is not None else ""
            if "Lost atoms" in msg or "Out of range" in msg or "nan" in msg.lower():
                raise SimulationError(f"the {stage} blew up: LAMMPS: {msg}{keep}") from exc
            raise SimulationError(f"LAMMPS failed during the {stage}: {msg}{keep}") from exc
        self.need_setup = False
        th = self.thermo()
        T, pe = th["temp"], th["pe"]
        last = getattr(self, "last_checkpoint_step", None)
        keep = f"; the last good checkpoint (step {last}) is kept" if last is not None else ""
        if not (math.isfinite(T) and math.isfinite(pe)):
            raise SimulationError(f"the {stage} blew up at step {int(th['step'])}: non-finite "
                                  f"energy or temperature (T={T}, pe={pe}){keep}")
        if T > self.config.runaway_T_K:
            raise SimulationError(f"the {stage} blew up at step {int(th['step'])}: temperature "
                                  f"runaway, T = {T:.1f} K > {self.config.runaway_T_K:.1f} K "
                                  f"(max_temperature_K){keep}")
        guard = self._variable("mdargy_guard")
        if guard is not None and guard > 0.5:
            v0 = self._variable("mdargy_v0")
            vol = float(self.lmp.get_thermo("vol"))
            fmax = float(self.lmp.get_thermo("fmax"))
            T = float(self.lmp.get_thermo("temp"))
            raise SimulationError(
                f"the {stage} blew up at step {self.step}: T = {T:.1f} K (limit "
                f"{self.config.runaway_T_K:.1f} K), largest force component {fmax:.3g} eV/A "
                f"(limit {GUARD_FMAX_EV_A:g}), box volume {vol:.1f} A^3 from {v0:.1f} (allowed "
                f"{GUARD_VOLUME_RATIO[0]:g}-{GUARD_VOLUME_RATIO[1]:g} times): the potential does "
                f"not hold the structure together at this temperature and pressure{keep}")
        n_now = int(self.lmp.get_natoms())
        if n_now != self.n_atoms:
            raise SimulationError(f"the {stage} lost atoms: {self.n_atoms} -> {n_now} at step "
                                  f"{int(th['step'])}{keep}")
        if self.progress_file is not None:
            self.progress_file.note(int(th["step"]), stage)
        return th

    def _variable(self, name: str) -> float | None:
        try:
            v = self.lmp.extract_variable(name)
        except Exception:
            return None
        return None if v is None else float(v)

    def thermo(self) -> dict:
        d = self.lmp.last_thermo()
        out = {}
        for key, name in zip(THERMO_KEYS, THERMO_LAST_NAMES):
            out[key] = float(d[name])
        for k, v in d.items():
            if k.startswith(("f_", "c_", "v_")):
                out[k] = float(v)
        return out

    @property
    def step(self) -> int:
        return int(self.lmp.extract_global("ntimestep"))

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint(self, state: dict, flush: Callable[[], dict] | None = None) -> None:
        """Write the restart file and then ``state.json`` (see the module docstring)."""
        step = self.step
        rf = self.rundir.restart_file(step)
        if self.rank == 0:
            self.rundir.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.comm.Barrier()
        run_commands(self.lmp, f"write_restart {lammps_path(rf)}")
        self.need_setup = True  # the resumed run starts with a full setup: do the same here
        extra = flush() if flush is not None and self.rank == 0 else {}
        if self.rank == 0:
            st = dict(state)
            st.update(extra or {})
            self._output_records = record_outputs(self.rundir, self.outputs,
                                                  self._output_records)
            st.update(version=STATE_VERSION, restart=rf.name, step=step,
                      restart_sha256=file_sha256(rf), outputs=self._output_records,
                      identity=(self.identity or {}).get("sha256"))
            keep = [rf.name]
            if self.rundir.state_path.exists():  # keep the previous checkpoint for --recover
                prev = self.rundir.state_path.read_bytes()
                try:
                    keep.append(str(json.loads(prev)["restart"]))
                    atomic_write_bytes(self.rundir.prev_state_path, prev)
                except (ValueError, KeyError, TypeError):
                    pass
            atomic_write_json(self.rundir.state_path, st)
            self.rundir.prune(*keep)
        self.comm.Barrier()
        self.last_checkpoint_step = step
        self.checkpoints_written += 1
        if self.stop_after_checkpoints and self.checkpoints_written >= self.stop_after_checkpoints:
            raise KeyboardInterrupt(f"test hook: stopped after {self.checkpoints_written} checkpoints")

    # -- progress ------------------------------------------------------------------------
    def progress_start(self, total: int, done: int, desc: str) -> None:
        if not self.progress:
            return
        from tqdm import tqdm

        self.progress_close()
        self._bar = tqdm(total=int(total), initial=int(done), desc=desc, unit="step",
                         file=sys.stderr, dynamic_ncols=True, leave=True)

    def progress_update(self, n: int, **post) -> None:
        if self._bar is not None:
            self._bar.update(int(n))
            if post:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in post.items()}, refresh=False)

    def progress_close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# -- per-rank data gathering -------------------------------------------------------------
def box_matrix(lmp) -> np.ndarray:
    """Cell vectors as rows (Å): a = (lx,0,0), b = (xy,ly,0), c = (xz,yz,lz)."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = (boxhi[i] - boxlo[i] for i in range(3))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def gather_frame(lmp, comm):
    """Unwrapped positions (Å) and velocities (Å/ps), sorted by atom id, on rank 0.

    Every rank extracts its local atoms; rank 0 receives them (``comm.gather``), sorts them by
    id and unwraps ``x + ix a + iy b + iz c`` with LAMMPS's image flags. Other ranks get
    ``(None, None, box)``.
    """
    nlocal = int(lmp.extract_setting("nlocal"))
    ids = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
    x = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
    v = np.array(lmp.numpy.extract_atom("v")[:nlocal], dtype=np.float64)
    img = np.array(lmp.numpy.extract_atom("image")[:nlocal], dtype=np.int64)
    mask = int(lmp.extract_setting("IMGMASK"))
    bits = int(lmp.extract_setting("IMGBITS"))
    bits2 = int(lmp.extract_setting("IMG2BITS"))
    imax = int(lmp.extract_setting("IMGMAX"))
    im = np.stack([(img & mask) - imax, ((img >> bits) & mask) - imax, (img >> bits2) - imax], axis=1)
    box = box_matrix(lmp)
    xu = x + im.astype(np.float64) @ box
    parts = comm.gather((ids, xu, v), root=0)
    if comm.Get_rank() != 0:
        return None, None, box
    ids = np.concatenate([p[0] for p in parts])
    order = np.argsort(ids, kind="stable")
    xu = np.concatenate([p[1] for p in parts])[order]
    v = np.concatenate([p[2] for p in parts])[order]
    return xu, v, box


def refuse_if_done(rundir: RunDirectory) -> None:
    if rundir.is_done():
        raise AlreadyDoneError(f"{rundir.result_path} exists: this run is finished. Use another "
                               "output_dir to run it again.")


def config_key(config) -> dict:
    """Structure, supercell and potential settings (kept in the state for reference; the run
    identity is what a resume is checked against)."""
    d = config.to_dict()
    return {k: d[k] for k in ("structure", "replicate", "type_elements", "potential")}


def _legacy_result_check(rundir: RunDirectory, result: dict, config) -> None:
    """A finished run of an mdargy without ``identity.json``: compare the recorded inputs."""
    old = (((result.get("provenance") or {}).get("inputs") or {}).get("config"))
    if not isinstance(old, dict):
        return
    new = config.identity_dict()
    for d in (old, new):
        d = d if isinstance(d, dict) else {}
        d.pop("output_dir", None)
        if isinstance(d.get("potential"), dict):
            d["potential"].pop("base_dir", None)
    a, b = _flatten(old), _flatten(json.loads(json.dumps(new)))
    diffs = [f"{k}: {a.get(k, '(absent)')!r} here -> {b.get(k, '(absent)')!r} now"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diffs:
        raise InputError("the finished run here was made with other settings; refusing to mix "
                         "them. Differing: " + "; ".join(diffs) + ". " + _ways_forward(),
                         rundir.path)


def prepare_run_directory(rundir: RunDirectory, config, identity: dict, outputs=(),
                          fresh: bool = False, recover: bool = False) -> tuple[dict | None, list]:
    """Check a run directory before anything is written into it (rank 0).

    Returns ``(state, notes)``: the verified checkpoint state to resume from (None for a fresh
    start; the outputs are already cut back to it) and notes for the user. Raises
    :class:`AlreadyDoneError` for a finished run of the same identity and :class:`InputError`
    for everything that cannot be resumed safely (see the module docstring).
    """
    notes = []
    if fresh and rundir.path.is_dir():
        dest = rundir.move_aside(outputs)
        if dest is not None:
            notes.append(f"starting afresh: the previous outputs were moved to {dest}")
    rundir.refuse_symlinks(outputs)
    old = rundir.read_identity()
    result = rundir.read_result()
    if result is not None:
        if old is not None:
            refuse_other_identity(rundir, old, identity, "the finished run here")
        else:
            _legacy_result_check(rundir, result, config)
        damaged = manifest_problems(rundir)
        if damaged:
            raise InputError("the run here is finished but its outputs changed since: "
                             + "; ".join(damaged) + ". Restore them, or " +
                             _ways_forward()[len("Ways forward: "):], rundir.path)
        raise AlreadyDoneError(f"{rundir.result_path} exists: this run is finished (same "
                               "settings). Use another output_dir to run it again.")
    if rundir.result_path.exists():
        notes.append(f"{rundir.result_path} is damaged (not valid JSON): the run is not counted "
                     "as done; it resumes from its checkpoint and writes it again")
    if old is not None:
        refuse_other_identity(rundir, old, identity, "the run here")
    states = rundir.load_states() if rundir.ckpt_dir.is_dir() else []
    if old is None:
        first = next((s for s, _, _ in states if s is not None), None)
        if first is not None:
            if first.get("identity") != identity["sha256"]:
                raise InputError(f"{IDENTITY_NAME} is missing and the checkpoint here was made "
                                 "with other settings (its identity hash differs). "
                                 + _ways_forward(), rundir.path)
        elif states:
            raise InputError(f"the checkpoint here is unreadable and {IDENTITY_NAME} is missing. "
                             + _ways_forward(), rundir.path)
        else:
            foreign = rundir.foreign_files(outputs)
            if foreign:
                raise InputError(f"holds {', '.join(foreign)} but no {IDENTITY_NAME}: no "
                                 "finished or checkpointed run of mdargy owns these files, and a "
                                 "new run would overwrite them. Move them away, or " +
                                 _ways_forward()[len("Ways forward: "):], rundir.path)
    state = None
    if states:
        checked = []
        for st, problem, path in states:
            probs = [problem] if problem else output_problems(rundir, st)
            checked.append((st, probs, path))
        latest, probs, path = checked[0]
        if not probs and path == rundir.state_path:
            state = latest
        else:
            good = next(((s, p) for s, pr, p in checked if not pr), None)
            why = "; ".join(probs) if probs else f"{rundir.state_path.name} is missing"
            if good is not None and (recover or path != rundir.state_path):
                state, gpath = good
                if rundir.state_path.exists():
                    bad = rundir.ckpt_dir / time.strftime("state.bad-%Y%m%dT%H%M%SZ.json",
                                                          time.gmtime())
                    os.replace(rundir.state_path, bad)
                    notes.append(f"the latest checkpoint failed verification ({why}); it was "
                                 f"moved to {bad.name}")
                atomic_write_bytes(rundir.state_path, gpath.read_bytes())
                notes.append(f"resuming from the previous good checkpoint at step "
                             f"{state['step']}")
            elif good is not None:
                raise InputError(f"cannot resume: {why}. The previous checkpoint (step "
                                 f"{good[0]['step']}) is intact: rerun with --recover "
                                 "(recover=True) to resume from it (the outputs are cut back to "
                                 "it), or " + _ways_forward()[len("Ways forward: "):],
                                 rundir.path)
            else:
                raise InputError(f"cannot resume: {why}; no intact checkpoint is left. "
                                 + _ways_forward(), rundir.path)
        cut_outputs(rundir, state)
    elif rundir.result_path.exists() or (rundir.ckpt_dir / "manifest.json").exists():
        # a finished run (damaged result.json) without a checkpoint: a new run would overwrite
        # its trajectories, so it is refused
        raise InputError(f"the run here finished but {rundir.result_path.name} is damaged and no "
                         "checkpoint is left to rewrite it from. Restore it, or "
                         + _ways_forward()[len("Ways forward: "):], rundir.path)
    rundir.path.mkdir(parents=True, exist_ok=True)
    if old is None:
        atomic_write_json(rundir.identity_path, identity)
    return state, notes


def run_driver(config, comm, progress: bool, loop: Callable, styles: dict | None = None,
               outputs=(), fresh: bool = False, recover: bool = False):
    """The frame every driver runs in; collective over ``comm``.

    Checks the run directory (:func:`prepare_run_directory`: identity, finished run, symbolic
    links, foreign files, verified checkpoint), prepares the structure on rank 0, creates
    LAMMPS on ``comm`` logging into the run directory, validates the potential and the required
    ``styles`` before any MD step, then returns ``loop(config, engine, rundir, prep, state)``.
    LAMMPS is closed whatever happens.

    ``outputs`` names the files (in the run directory) the loop appends to; every checkpoint
    records their lengths and checksums and every resume verifies them. ``fresh`` moves the
    existing outputs aside and starts again; ``recover`` resumes from the previous checkpoint
    when the latest one fails verification.
    """
    comm = get_comm(comm)
    bc = _Broadcast(comm)
    rundir = RunDirectory(config.output_dir)

    def _check():
        lammps_path(rundir.path)  # a folder LAMMPS cannot be given is refused before any write
        ident = run_identity(config)
        state, notes = prepare_run_directory(rundir, config, ident, outputs, fresh, recover)
        for n in notes:
            print(f"mdargy: note: {rundir.path}: {n}", file=sys.stderr)
        return ident, state

    identity, state = bc(_check)
    fresh_start = state is None

    def _prep():
        return prepare_structure(config, rundir.path, write=fresh_start)

    prep = bc(_prep)
    log = rundir.path / ("log.lammps" if fresh_start else f"log.resume-{state['step']}.lammps")
    lmp = create_lammps(comm, log=str(log))
    eng = None
    try:
        config.potential.validate(lmp=lmp)
        require_styles(lmp, driver_styles(config))
        if styles:
            require_styles(lmp, styles)
        eng = Engine(lmp, comm, rundir, config, progress, outputs=outputs, identity=identity,
                     state=state)
        result = loop(config, eng, rundir, prep, state)
        bc(lambda: write_manifest(rundir, outputs))
        return result
    finally:
        if eng is not None:
            eng.progress_close()
        lmp.close()
