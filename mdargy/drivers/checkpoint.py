"""Run directories, checkpoints and the segment loop shared by the EMD and NEMD drivers.

A run is a list of *stages* (equilibration, production, ...), each advanced in *segments* of
``run N`` commands. Between segments the driver reads thermo values and samples on all ranks,
and rank 0 writes outputs. Every ``checkpoint_every`` steps the state is saved:

1. ``write_restart checkpoints/ckpt-<step>.restart`` (collective);
2. ``checkpoints/state.json`` (rank 0, atomic rename) naming that restart file, the stage and
   step reached, the accumulated series, and how far each output file is valid (frames, bytes);
3. older restart files are removed.

A kill at any moment leaves a ``state.json`` naming a complete restart file. Re-running the same
command reads it, restarts LAMMPS from the restart file, cuts every output back to the recorded
length (no duplicate, no missing frames) and continues. ``result.json`` is written last; its
presence means the run is done and it is never overwritten (:class:`AlreadyDoneError`).

Stochastic fixes are re-created every segment with a seed derived from the run seed and the
segment's first step, so an interrupted and resumed run draws the same random numbers as an
uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mdargy.errors import AlreadyDoneError, InputError, MdargyError, SimulationError
from mdargy.io.atomic import atomic_write_json

STATE_VERSION = 1

#: thermo keywords read after every segment, and their column names in ``thermo.csv``.
THERMO_KEYS = ("step", "time", "temp", "pe", "ke", "etotal", "press", "vol", "lx", "ly", "lz")
THERMO_COLUMNS = ("step", "time_ps", "T_K", "pe_eV", "ke_eV", "etotal_eV", "press_bar",
                  "vol_A3", "lx_A", "ly_A", "lz_A")
_LAST_THERMO_NAMES = ("Step", "Time", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume",
                      "Lx", "Ly", "Lz")


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
        self.result_path = self.path / "result.json"

    def is_done(self) -> bool:
        return self.result_path.exists()

    def load_state(self) -> dict | None:
        if not self.state_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable checkpoint state ({exc}); remove the directory to "
                             "start again", self.state_path) from exc
        if state.get("version") != STATE_VERSION:
            raise InputError("checkpoint written by another mdargy version", self.state_path)
        rf = self.ckpt_dir / state["restart"]
        if not rf.exists():
            raise InputError(f"checkpoint restart file {rf.name} is missing", self.state_path)
        return state

    def restart_file(self, step: int) -> Path:
        return self.ckpt_dir / f"ckpt-{int(step)}.restart"

    def prune(self, keep: str) -> None:
        for p in self.ckpt_dir.glob("ckpt-*.restart*"):
            if p.name != keep:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


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

    def __init__(self, lmp, comm, rundir: RunDirectory, config, progress: bool = True):
        self.lmp = lmp
        self.comm = comm
        self.rank = comm.Get_rank()
        self.rundir = rundir
        self.config = config
        self.n_atoms = int(lmp.get_natoms())
        self.need_setup = True
        self.checkpoints_written = 0
        self._bar = None
        self.progress = progress and self.rank == 0
        #: test hook: raise KeyboardInterrupt after this many checkpoints (simulated kill)
        self.stop_after_checkpoints = int(os.environ.get("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", "0"))

    # -- commands ------------------------------------------------------------------------
    def commands(self, text: str | list[str]) -> None:
        from mdargy.lammps.runtime import run_commands

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
            from mdargy.drivers.common import GUARD_FMAX_EV_A, GUARD_VOLUME_RATIO

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
        for key, name in zip(THERMO_KEYS, _LAST_THERMO_NAMES):
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
        from mdargy.lammps.runtime import run_commands

        run_commands(self.lmp, f"write_restart {rf}")
        self.need_setup = True  # the resumed run starts with a full setup: do the same here
        extra = flush() if flush is not None and self.rank == 0 else {}
        if self.rank == 0:
            st = dict(state)
            st.update(extra or {})
            st.update(version=STATE_VERSION, restart=rf.name, step=step)
            atomic_write_json(self.rundir.state_path, st)
            self.rundir.prune(rf.name)
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


def lammps_dump_frame(step: int, box: np.ndarray, types: np.ndarray, xu: np.ndarray,
                      v: np.ndarray, origin=(0.0, 0.0, 0.0)) -> bytes:
    """One frame in LAMMPS ``dump custom`` text format (``id type xu yu zu vx vy vz``).

    ``box`` holds the cell vectors as rows and ``origin`` is LAMMPS's ``(xlo, ylo, zlo)``.
    """
    lx, ly, lz = box[0, 0], box[1, 1], box[2, 2]
    xy, xz, yz = box[1, 0], box[2, 0], box[2, 1]
    x0, y0, z0 = (float(o) for o in origin)
    n = xu.shape[0]
    if xy == 0 and xz == 0 and yz == 0:
        bounds = (f"ITEM: BOX BOUNDS pp pp pp\n{x0:.16g} {x0 + lx:.16g}\n{y0:.16g} {y0 + ly:.16g}\n"
                  f"{z0:.16g} {z0 + lz:.16g}\n")
    else:  # LAMMPS bounding-box convention for triclinic cells
        xlo_b = x0 + min(0.0, xy, xz, xy + xz)
        xhi_b = x0 + lx + max(0.0, xy, xz, xy + xz)
        ylo_b = y0 + min(0.0, yz)
        yhi_b = y0 + ly + max(0.0, yz)
        bounds = (f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlo_b:.16g} {xhi_b:.16g} {xy:.16g}\n"
                  f"{ylo_b:.16g} {yhi_b:.16g} {xz:.16g}\n{z0:.16g} {z0 + lz:.16g} {yz:.16g}\n")
    head = (f"ITEM: TIMESTEP\n{int(step)}\nITEM: NUMBER OF ATOMS\n{n}\n{bounds}"
            "ITEM: ATOMS id type xu yu zu vx vy vz\n")
    import io

    buf = io.StringIO()
    table = np.column_stack([np.arange(1, n + 1), types, xu, v])
    np.savetxt(buf, table, fmt=["%d", "%d"] + ["%.10g"] * 6)
    return (head + buf.getvalue()).encode("ascii")


def refuse_if_done(rundir: RunDirectory) -> None:
    if rundir.is_done():
        raise AlreadyDoneError(f"{rundir.result_path} exists: this run is finished. Use another "
                               "output_dir to run it again.")


def config_key(config) -> dict:
    """The settings a run cannot change when it resumes: structure, supercell, potential."""
    d = config.to_dict()
    return {k: d[k] for k in ("structure", "replicate", "type_elements", "potential")}


def check_resumable(state: dict | None, config, rundir: RunDirectory) -> None:
    """Refuse to resume a checkpoint written for another structure or potential."""
    if state is None:
        return
    if state.get("config_key") not in (None, config_key(config)):
        raise InputError("the checkpoint in this directory belongs to a run with another "
                         "structure, supercell or potential; use a new output_dir",
                         rundir.state_path)


def run_driver(config, comm, progress: bool, loop: Callable, styles: dict | None = None):
    """The frame every driver runs in; collective over ``comm``.

    Refuses a finished run, loads the checkpoint state (if any), prepares the structure on rank
    0, creates LAMMPS on ``comm`` logging into the run directory, validates the potential and
    the required ``styles`` before any MD step, then returns ``loop(config, engine, rundir,
    prep, state)``. LAMMPS is closed whatever happens.
    """
    from mdargy.drivers.common import prepare_structure
    from mdargy.lammps.runtime import create_lammps, get_comm, require_styles

    comm = get_comm(comm)
    bc = _Broadcast(comm)
    rundir = RunDirectory(config.output_dir)
    bc(lambda: refuse_if_done(rundir))
    state = bc(rundir.load_state)
    check_resumable(state, config, rundir)
    fresh = state is None

    def _prep():
        rundir.path.mkdir(parents=True, exist_ok=True)
        return prepare_structure(config, rundir.path, write=fresh)

    prep = bc(_prep)
    log = rundir.path / ("log.lammps" if fresh else f"log.resume-{state['step']}.lammps")
    lmp = create_lammps(comm, log=str(log))
    eng = None
    try:
        config.potential.validate(lmp=lmp)
        if styles:
            require_styles(lmp, styles)
        eng = Engine(lmp, comm, rundir, config, progress)
        return loop(config, eng, rundir, prep, state)
    finally:
        if eng is not None:
            eng.progress_close()
        lmp.close()
