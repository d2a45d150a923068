"""Non-equilibrium MD driver: κ(L) of a periodic bar along x from a heat source and sink.

Geometry: the bar (``replicate = (nx, ny, nz)`` unit cells, length ``L = Lx``) is cut into
``n_bins`` slabs along x. The cold slab starts at x = 0, the hot slab at x = L/2: heat flows
from the hot to the cold slab along two paths (+x and -x), hence the factor 1/2 in
``κ = Q / (2 S |∇T|)`` (:mod:`mdargy.analysis.nemd`).

Methods
-------
``langevin``
    Langevin thermostats at ``T ± ΔT/2`` act on the atoms inside each slab region: the baths
    are dynamic groups (``group ... dynamic ... region ... every N``), so mobile ions (Cu in
    Cu7PS6 diffuses at ~5e-5 cm²/s at 550 K) are thermostatted only while they are in a bath.
    The groups are re-evaluated every :func:`bath_group_every` steps (about
    :data:`BATH_GROUP_EVERY_FS`), not every step: between two updates an atom that has just
    crossed a slab face keeps its previous role, so the bath's faces are blurred by the distance
    an atom moves in that time (hundredths of an Å against slabs of several Å). Measured
    (``benchmarks/bench_nemd_overhead.py --membership``): 0.16 % of the bath atom-steps are
    assigned differently from every-step groups in the Cu7PS6 bar at 300 K (10 steps of 1 fs).
    The heat is the energy the baths actually exchanged (the tally), so the flux stays exact for
    the baths as applied, and the gradient fit leaves out the bins beside the baths.
    ``fix langevin ... tally yes`` accumulates the energy each bath exchanges (Schneider &
    Stoll, *PRB* 17, 1302 (1978); tally by C. Phillips). The rest of the bar is NVE. After each
    checkpoint the baths are re-created with a seed derived from the run seed and that step, so
    a resumed run draws the same random numbers as an uninterrupted one. The blocks between
    two checkpoints are run with a common ``start`` step: LAMMPS resets a Langevin tally at the
    start of every run, and each reset loses about half a step of tallied energy (measured: a
    2.7 % energy-balance error with a reset every 500 steps at dt = 5 fs, damp = 0.5 ps).
``muller-plathe``
    ``fix thermal/conductivity``: every ``swap_every_fs`` the velocity of the hottest atom of
    the cold slab is swapped with that of the coldest atom of the hot slab (Müller-Plathe,
    *J. Chem. Phys.* 106, 6082 (1997)); the slabs are chosen by position at each swap. The
    swapped kinetic energy is the heat. The whole bar is NVE.

The heat flux is never taken from ``compute heat/flux`` (ill-defined for many-body ML
potentials): only from the bath tallies or the swapped energy. The temperature profile comes
from ``fix ave/chunk`` over ``bin/1d`` slabs, one profile per block of ``block_steps``.

Outputs in ``output_dir``: ``structure.data``, ``thermo.csv`` (one row per block),
``blocks.csv`` (heat in/out and energy change per block), ``profiles.csv`` (the profile of every
block), ``profile.csv`` (steady mean ± σ and the fit), ``result.json``. The driver draws no
figure: ``mdargy nemd`` draws ``profile.png`` (:func:`mdargy.plots.nemd.plot_profile`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.nemd import EV_PS_TO_W, analyse_nemd
from mdargy.drivers.checkpoint import (
    THERMO_COLUMNS,
    Engine,
    RunDirectory,
    box_matrix,
    derived_seed,
    config_key,
    run_driver,
)
from mdargy.drivers.common import base_commands, round_up
from mdargy.drivers.config import NEMDConfig
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv
from mdargy.results import Result, provenance


@dataclasses.dataclass(frozen=True)
class NEMDResult(Result):
    """κ(L) of one bar and everything needed to judge it (units in the names).

    The gradient is given in K/Å (``gradT_K_A``) and K/m (``gradT_K_m``); ``Q`` is the power
    injected at the source (eV/ps and W). ``kappa_err_W_mK`` is the standard error of κ over
    ``n_error_blocks`` consecutive groups of steady-state blocks (``kappa_err_groups_W_mK``)
    combined in quadrature with the two-path disagreement (``kappa_err_paths_W_mK``), see
    :mod:`mdargy.analysis.nemd`. ``imbalance_fraction`` is
    (heat in - heat out)/mean over the steady state; ``closure_fraction`` also subtracts the
    change of the total energy (what remains is integration error).
    """

    output_dir: str
    method: str
    kappa_W_mK: float
    kappa_err_W_mK: float
    kappa_groups_W_mK: tuple
    kappa_err_groups_W_mK: float
    kappa_err_paths_W_mK: float
    gradT_K_A: float
    gradT_err_K_A: float
    gradT_K_m: float
    gradient_asymmetry: float
    Q_eV_ps: float
    Q_err_eV_ps: float
    Q_W: float
    area_A2: float
    length_A: float
    n_atoms: int
    T_target_K: float
    T_mean_K: float
    T_hot_K: float | None
    T_cold_K: float | None
    cold_bath_A: tuple
    hot_bath_A: tuple
    x_A: tuple
    T_K: tuple
    T_err_K: tuple
    fit_up: dict
    fit_down: dict
    heat_in_eV: float
    heat_out_eV: float
    imbalance_fraction: float
    dE_system_eV: float | None
    closure_fraction: float | None
    n_blocks: int
    n_discarded_blocks: int
    transient_auto: bool
    steady_time_ps: float
    block_steps: int
    timestep_fs: float
    notes: tuple
    provenance: dict


def geometry(config: NEMDConfig, box: np.ndarray) -> dict:
    """Bar length, cross-section, bin centres and bath slabs (Å) for a cell ``box``."""
    L = float(box[0, 0])
    S = float(box[1, 1] * box[2, 2])  # area of the cell face normal to x (LAMMPS cell)
    w = L / config.n_bins
    nb = config.bath_bins if config.method == "langevin" else 1
    half = config.n_bins // 2
    return {
        "length_A": L, "area_A2": S, "bin_A": w,
        "x_A": (np.arange(config.n_bins) + 0.5) * w,
        "cold_A": (0.0, nb * w), "hot_A": (half * w, (half + nb) * w),
        "exclude_A": config.fit_exclude_bins * w,
    }


#: Target time between two re-evaluations of the bath groups (fs); see :func:`bath_group_every`.
BATH_GROUP_EVERY_FS = 10.0


def bath_group_every(config: NEMDConfig) -> int:
    """Steps between re-evaluations of the Langevin bath groups.

    About :data:`BATH_GROUP_EVERY_FS` (10 steps at 1 fs, 2 at 5 fs), and a divisor of
    ``sample_every_fs`` (hence of ``block_ps``): every block, and so every checkpoint, starts on
    an update step, which keeps a resumed run identical to an uninterrupted one.
    """
    n = max(1, int(round(BATH_GROUP_EVERY_FS / config.timestep_fs)))
    return math.gcd(n, int(config.sample_every_steps))


def nemd_stage_commands(config: NEMDConfig, xlo: float, geo: dict) -> list[str]:
    """Fixes and computes of the NEMD stage (after equilibration).

    The profile is sampled every ``sample_every_fs`` (the chunk assignment is computed only
    then); the bath groups are updated every :func:`bath_group_every` steps.
    """
    c0, c1 = (xlo + v for v in geo["cold_A"])
    h0, h1 = (xlo + v for v in geo["hot_A"])
    nrep = config.block_steps // config.sample_every_steps
    lines = [
        "fix nve all nve",
        f"region rcold block {c0:.10g} {c1:.10g} INF INF INF INF units box",
        f"region rhot block {h0:.10g} {h1:.10g} INF INF INF INF units box",
        f"compute slabs all chunk/atom bin/1d x lower {1.0 / config.n_bins:.12g} units reduced",
    ]
    if config.method == "muller-plathe":
        lines.append(f"fix mp all thermal/conductivity {config.swap_every_steps} x "
                     f"{config.n_bins} "
                     f"swap {config.swap_atoms}")
    lines.append(f"fix prof all ave/chunk {config.sample_every_steps} {nrep} {config.block_steps} "
                 "slabs temp")
    if config.method == "langevin":
        every = bath_group_every(config)
        lines += [f"group hot dynamic all region rhot every {every}",
                  f"group cold dynamic all region rcold every {every}"]
    return lines


def bath_commands(config: NEMDConfig, step: int, first: bool) -> list[str]:
    """(Re-)create the Langevin baths for the block starting at ``step``.

    ``zero no``: each bath is a full Langevin thermostat, its centre-of-mass motion included.
    With ``zero yes`` LAMMPS removes the net random force on the bath but keeps the friction on
    its centre-of-mass velocity, a thermostat at 0 K for those three degrees of freedom: the
    baths then run at T (N_b - 1)/N_b and drain energy from the bar's long-wavelength motion,
    so long bars cool and never reach a steady state. With ``zero no`` the bar's total momentum
    is itself thermostatted by the baths (friction and noise): it fluctuates at the thermal
    level, ~ sqrt(3 k_B T / M_bar), and does not drift.
    """
    Th = config.temperature_K + 0.5 * config.delta_T_K
    Tc = config.temperature_K - 0.5 * config.delta_T_K
    damp = config.bath_damp_fs * 1e-3
    lines = [] if first else ["unfix hot", "unfix cold"]
    lines += [
        f"fix hot hot langevin {Th:g} {Th:g} {damp:g} {derived_seed(config.seed, step, 1)} "
        "tally yes zero no",
        f"fix cold cold langevin {Tc:g} {Tc:g} {damp:g} {derived_seed(config.seed, step, 2)} "
        "tally yes zero no",
    ]
    return lines


def nemd_input(config: NEMDConfig, data_file: str = "structure.data", type_elements=None,
               box=None) -> str:
    """The LAMMPS input of an uninterrupted NEMD run (``--dry-run``, tests).

    ``box`` (3x3, Å) defaults to a unit placeholder; the driver uses the real cell.
    """
    tel = list(type_elements or config.potential.elements or ["X"])
    box = np.eye(3) * 100.0 if box is None else np.asarray(box, dtype=float)
    geo = geometry(config, box)
    T = config.temperature_K
    lines = ["# mdargy NEMD (" + config.method + "): " + str(config.output_dir)]
    lines += base_commands(config, data_file, tel)
    lines.append(f"velocity all create {T:g} {config.seed} mom yes rot no dist gaussian loop geom")
    if config.equilibration_steps:
        lines += ["# equilibration", f"fix eq all nvt temp {T:g} {T:g} {config.tdamp_fs * 1e-3:g}",
                  f"run {config.equilibration_steps}", "unfix eq"]
    lines += ["# NEMD: baths by region (dynamic groups); heat from bath tallies / swapped energy"]
    lines += nemd_stage_commands(config, 0.0, geo)
    nblocks = config.production_steps // config.block_steps
    if config.method == "langevin":
        lines.append("# baths re-created after every checkpoint (seed derived from that step)")
        lines += bath_commands(config, config.equilibration_steps, True)
        e0 = config.equilibration_steps
        lines.append(f"run {config.production_steps} start {e0} "
                     f"stop {e0 + config.production_steps}  "
                     f"# as {nblocks} blocks of {config.block_steps}")
    else:
        lines.append(f"run {config.production_steps}  # as {nblocks} blocks of "
                     f"{config.block_steps}")
    return "\n".join(lines) + "\n"


def run_nemd(config: NEMDConfig, comm=None, progress: bool = True, *, fresh: bool = False,
             recover: bool = False) -> NEMDResult:
    """Run (or resume) a NEMD simulation and compute κ(L); collective over ``comm``.

    ``fresh`` and ``recover`` as in :func:`mdargy.drivers.emd.run_emd`.

    Returns
    -------
    NEMDResult (on every rank)

    Raises
    ------
    AlreadyDoneError, InputError, MissingCapabilityError, SimulationError
        As :func:`mdargy.drivers.emd.run_emd`.
    """
    return run_driver(config, comm, progress, _nemd_loop, fresh=fresh, recover=recover)


def _thermo_row(th, stage):
    return [th[k] for k in ("step", "time", "temp", "pe", "ke", "etotal", "press", "vol", "lx",
                            "ly", "lz")] + [stage]


def _nemd_loop(config: NEMDConfig, eng: Engine, rundir: RunDirectory, prep, state):
    comm, rank = eng.comm, eng.rank
    tel = prep["type_elements"]
    fresh = state is None
    bsteps = int(config.block_steps)
    if fresh:
        eng.commands(base_commands(config, prep["data_file"], tel))
        eng.commands(f"velocity all create {config.temperature_K:g} {config.seed} mom yes rot no "
                     "dist gaussian loop geom")
        state = {"config_key": config_key(config),
                 "stage": "equilibration" if config.equilibration_steps else "nemd",
                 "stage_step": 0, "thermo": [], "blocks": {}}
    else:
        rf = rundir.ckpt_dir / state["restart"]
        eng.commands(base_commands(config, None, tel, restart_file=str(rf)))
        eng.last_checkpoint_step = state["step"]
    rows = [list(r) for r in state["thermo"]]
    blocks = {k: list(v) for k, v in state.get("blocks", {}).items()}
    ck = round_up(config.checkpoint_every_steps, bsteps)

    def flush():
        atomic_write_csv(rundir.path / "thermo.csv", THERMO_COLUMNS + ("stage",), rows)
        return {"thermo": rows, "blocks": blocks}

    # -- equilibration (NVT) ---------------------------------------------------------------
    if state["stage"] == "equilibration":
        n_eq = int(config.equilibration_steps)
        T = config.temperature_K
        eng.commands(f"fix eq all nvt temp {T:g} {T:g} {config.tdamp_fs * 1e-3:g}")
        k = int(state["stage_step"])
        eng.progress_start(n_eq, k, "NEMD equilibration")
        while k < n_eq:
            n = min(bsteps, n_eq - k)
            th = eng.run(n, "equilibration")
            k += n
            rows.append(_thermo_row(th, "equilibration"))
            eng.progress_update(n, T_K=th["temp"])
            if k == n_eq:
                eng.commands("unfix eq")
                state.update(stage="nemd", stage_step=0, etotal_prev=th["etotal"])
                eng.checkpoint({**state, "thermo": rows, "blocks": blocks}, flush)
            elif k % ck == 0:
                state["stage_step"] = k
                eng.checkpoint({**state, "thermo": rows, "blocks": blocks}, flush)
        eng.progress_close()

    # -- NEMD -------------------------------------------------------------------------------
    box = box_matrix(eng.lmp)
    xlo = float(eng.lmp.extract_box()[0][0])
    geo = geometry(config, box)
    if config.n_bins > 0 and geo["bin_A"] < 1.0:
        raise InputError(f"slabs of {geo['bin_A']:.2f} Å are too thin: use fewer bins or a "
                         "longer bar")
    eng.commands(nemd_stage_commands(config, xlo, geo))
    n_nemd = int(config.production_steps)
    k = int(state["stage_step"])
    if "etotal_prev" not in state:  # no equilibration: energy at the start
        state["etotal_prev"] = eng.run(0, "nemd")["etotal"]
    e_prev = float(state["etotal_prev"])
    for key in ("step", "heat_in_eV", "heat_out_eV", "dE_eV", "T_K", "profile_K", "count"):
        blocks.setdefault(key, [])
    mp_prev = hot_prev = cold_prev = 0.0
    first_bath = True
    bath_start = None
    stage_end = eng.step + (n_nemd - k)
    eng.progress_start(n_nemd, k, f"NEMD {config.method}")
    while k < n_nemd:
        extra = ""
        if config.method == "langevin":
            if eng.need_setup:  # first block, or first after a checkpoint: (re-)seed the baths
                eng.commands(bath_commands(config, eng.step, first_bath))
                first_bath = False
                bath_start = eng.step
                hot_prev = cold_prev = 0.0
            # a fixed run start keeps the bath tallies accumulating across blocks
            extra = f"start {bath_start} stop {stage_end}"
        th = eng.run(bsteps, "NEMD", extra)
        k += bsteps
        if config.method == "langevin":
            hot = float(eng.lmp.extract_fix("hot", 0, 0))
            cold = float(eng.lmp.extract_fix("cold", 0, 0))
            hin, hout = -(hot - hot_prev), cold - cold_prev
            hot_prev, cold_prev = hot, cold
        else:
            cum = float(eng.lmp.extract_fix("mp", 0, 0))
            hin = hout = cum - mp_prev
            mp_prev = cum
        prof = [float(eng.lmp.extract_fix("prof", 0, 2, i, 2)) for i in range(config.n_bins)]
        cnt = [float(eng.lmp.extract_fix("prof", 0, 2, i, 1)) for i in range(config.n_bins)]
        blocks["step"].append(int(th["step"]))
        blocks["heat_in_eV"].append(hin)
        blocks["heat_out_eV"].append(hout)
        blocks["dE_eV"].append(th["etotal"] - e_prev)
        blocks["T_K"].append(th["temp"])
        blocks["profile_K"].append(prof)
        blocks["count"].append(cnt)
        e_prev = th["etotal"]
        rows.append(_thermo_row(th, "nemd"))
        eng.progress_update(bsteps, T_K=th["temp"], Q_eV_ps=hin / (bsteps * config.timestep_ps))
        if k % ck == 0 or k == n_nemd:
            state.update(stage_step=k, etotal_prev=e_prev)
            eng.checkpoint({**state, "thermo": rows, "blocks": blocks}, flush)
    eng.progress_close()

    result = None
    err = None
    if rank == 0:
        try:
            result = _finish(config, rundir, prep, geo, blocks, rows)
        except Exception as exc:  # keep all ranks in step
            err = exc
    result, err = comm.bcast((result, err), root=0)
    if err is not None:
        raise err
    return result


def _finish(config: NEMDConfig, rundir: RunDirectory, prep, geo, blocks, rows) -> NEMDResult:
    dt = config.timestep_ps
    bt = config.block_steps * dt
    P = np.array(blocks["profile_K"], dtype=float)
    an = analyse_nemd(geo["x_A"], P, blocks["heat_in_eV"], blocks["heat_out_eV"], bt,
                      geo["length_A"], geo["area_A2"], geo["cold_A"], geo["hot_A"],
                      exclude_A=geo["exclude_A"], discard_blocks=config.discard_blocks,
                      n_error_blocks=config.n_error_blocks, dE_system_eV=blocks["dE_eV"],
                      counts=np.array(blocks["count"]))
    out = rundir.path
    atomic_write_csv(out / "thermo.csv", THERMO_COLUMNS + ("stage",), rows)
    atomic_write_csv(out / "blocks.csv",
                     ("step", "time_ps", "heat_in_eV", "heat_out_eV", "dE_system_eV", "T_K",
                      "steady"),
                     [(s, s * dt, a, b, c, d, int(i >= an.n_discarded_blocks)) for i, (s, a, b, c, d)
                      in enumerate(zip(blocks["step"], blocks["heat_in_eV"], blocks["heat_out_eV"],
                                       blocks["dE_eV"], blocks["T_K"]))])
    atomic_write_csv(out / "profiles.csv", ["step"] + [f"T_K_bin{i}" for i in range(P.shape[1])],
                     [[s] + list(p) for s, p in zip(blocks["step"], P.tolist())])
    fu, fd = an.fit_up, an.fit_down
    atomic_write_csv(out / "profile.csv",
                     ("x_A", "T_K", "T_err_K", "in_fit_up", "in_fit_down", "x_unwrapped_A",
                      "T_fit_K"),
                     [(x, t, e, int(u), int(d), xu,
                       fu(xu) if u else (fd(xu) if d else float("nan")))
                      for x, t, e, u, d, xu in zip(an.x_A, an.T_K, an.T_err_K, an.up_mask,
                                                   an.down_mask, an.x_unwrapped_A)])
    notes = [
        f"kappa(L) of a bar of L = {geo['length_A']:.2f} A: finite-size value; extrapolate "
        "1/kappa against 1/L over several lengths for the bulk value",
        f"kappa_err combines the standard error over {config.n_error_blocks} groups of steady "
        "blocks (assumed uncorrelated) and the disagreement of the two heat paths; runs shorter "
        "than a few bar relaxation times (~L^2/alpha) can still underestimate it, and where a "
        "group outlasts that relaxation it is conservative, up to ~2x (16 independent LJ bars: "
        "std(kappa) = 0.53 x the mean sigma)",
        f"{an.n_discarded_blocks} of {an.n_blocks} blocks discarded as transient "
        + ("(MSER rule)" if an.transient_auto else "(discard_blocks)"),
        f"gradients of the two paths differ by {100 * an.gradient_asymmetry:.1f} %",
    ]
    if config.method == "langevin":
        notes.append("heat from Langevin bath tallies; the in/out imbalance includes the "
                     "fluctuation of the system energy over the steady window")
    else:
        notes.append("heat = swapped kinetic energy (heat in = heat out exactly); the closure "
                     "measures the energy drift of the integrator")
    lang = config.method == "langevin"
    res = NEMDResult(
        output_dir=str(out), method=config.method,
        kappa_W_mK=an.kappa_W_mK, kappa_err_W_mK=an.kappa_err_W_mK,
        kappa_groups_W_mK=tuple(an.kappa_groups_W_mK.tolist()),
        kappa_err_groups_W_mK=an.kappa_err_groups_W_mK,
        kappa_err_paths_W_mK=an.kappa_err_paths_W_mK,
        gradT_K_A=an.gradient_K_A, gradT_err_K_A=an.gradient_err_K_A,
        gradT_K_m=an.gradient_K_A * 1e10, gradient_asymmetry=an.gradient_asymmetry,
        Q_eV_ps=an.Q_eV_ps, Q_err_eV_ps=an.Q_err_eV_ps, Q_W=an.Q_eV_ps * EV_PS_TO_W,
        area_A2=geo["area_A2"], length_A=geo["length_A"], n_atoms=prep["n_atoms"],
        T_target_K=config.temperature_K, T_mean_K=an.T_mean_K,
        T_hot_K=config.temperature_K + 0.5 * config.delta_T_K if lang else None,
        T_cold_K=config.temperature_K - 0.5 * config.delta_T_K if lang else None,
        cold_bath_A=tuple(geo["cold_A"]), hot_bath_A=tuple(geo["hot_A"]),
        x_A=tuple(an.x_A.tolist()), T_K=tuple(np.asarray(an.T_K).tolist()),
        T_err_K=tuple(np.asarray(an.T_err_K).tolist()),
        fit_up={k: v for k, v in fu.to_dict().items() if k != "covariance"},
        fit_down={k: v for k, v in fd.to_dict().items() if k != "covariance"},
        heat_in_eV=an.balance.heat_in_eV, heat_out_eV=an.balance.heat_out_eV,
        imbalance_fraction=an.balance.imbalance_fraction, dE_system_eV=an.balance.dE_system_eV,
        closure_fraction=an.balance.closure_fraction, n_blocks=an.n_blocks,
        n_discarded_blocks=an.n_discarded_blocks, transient_auto=an.transient_auto,
        steady_time_ps=(an.n_blocks - an.n_discarded_blocks) * bt,
        block_steps=config.block_steps, timestep_fs=config.timestep_fs, notes=tuple(notes),
        provenance=provenance(config=config.to_dict(),
                              seeds={"velocity": config.seed,
                                     "langevin": "derived_seed(seed, block_first_step, 1|2)"}),
    )
    res.to_json(rundir.result_path)
    return res
