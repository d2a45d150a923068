"""``mdargy lattice``: effective force constants from an EMD run, phonons and Wigner kappa.

Sub-commands (each with ``--help``)::

    mdargy lattice fit RUN_DIR -o OUT        snapshots + hiPhive fit -> OUT/fc2.hdf5, fc3.hdf5
    mdargy lattice phonons OUT [OUT2 ...]    dispersion, DOS, imaginary modes, figures
    mdargy lattice wigner OUT -T 100 200     kappa_p, kappa_c, spectra, mesh check, figure
    mdargy lattice run RUN_DIR -o OUT        all three (resumable)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, refuse_overwrite
from mdargy.lattice.fcfit import FCFitResult, fit_force_constants, resolve_cutoffs
from mdargy.lattice.phonons import PhononResult, compute_phonons, read_fc2
from mdargy.lattice.pipeline import lattice_from_run
from mdargy.lattice.snapshots import SnapshotSet, make_reference, read_run, snapshots_from_run
from mdargy.lattice.wigner import WignerResult, read_fc3, wigner_conductivity
from mdargy.plots.lattice import (
    plot_dispersion_weight,
    plot_dispersions,
    plot_phonon_dos,
    plot_spectral_kappa,
)
from mdargy.potentials.spec import PotentialSpec


def _say(args):
    if getattr(args, "quiet", False):
        return None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def _fit_arguments(p):
    p.add_argument("--snapshots", type=int, default=50, metavar="N",
                   help="frames taken evenly from the production (default 50)")
    p.add_argument("--skip-ps", type=float, default=0.0, metavar="PS",
                   help="production time skipped before the first snapshot, ps")
    p.add_argument("--window-ps", type=float, default=0.0, metavar="PS",
                   help="use only this much production after --skip-ps for the snapshots, the "
                   "diffusion check and the averaged reference, ps (default 0: to the end)")
    p.add_argument("--cutoffs", type=float, nargs="+", metavar="A",
                   help="cutoffs in Å for orders 2, 3 (, 4); default 7.5 6.0 3.5 clipped to "
                   "half the supercell's smallest width")
    p.add_argument("--max-order", type=int, choices=(2, 3, 4), default=3,
                   help="highest force-constant order (default 3)")
    p.add_argument("--cv-splits", type=int, default=5,
                   help="folds of the cross-validation score (0: none; default 5)")
    p.add_argument("--reference", choices=("average", "structure"), default="average",
                   help="reference positions: the run's symmetrised time average (default) or "
                   "the structure file")
    p.add_argument("--potential", metavar="TOML",
                   help="TOML with a [potential] table (default: the run's potential)")
    p.add_argument("--structure", metavar="FILE",
                   help="reference unit cell (default: the run's structure file)")
    p.add_argument("--no-diffusion-check", action="store_true",
                   help="fit even if the MSD shows hopping (the result is then meaningless)")


def _wigner_arguments(p):
    p.add_argument("--mesh", type=int, nargs="+", default=[8], metavar="N",
                   help="q-mesh of kappa (one or three integers; default 8)")
    p.add_argument("--coarse-mesh", type=int, nargs="+", metavar="N",
                   help="a coarser mesh for the convergence check (printed)")
    p.add_argument("--classical", action="store_true",
                   help="classical heat capacities (k_B per mode), to compare with classical MD")
    p.add_argument("--band", type=float, nargs=2, metavar=("LO", "HI"),
                   help="report the share of kappa_c from LO..HI THz")


def add_parser(sub):
    p = sub.add_parser(
        "lattice",
        help="effective force constants from MD (hiPhive), phonons (phonopy), Wigner kappa_p + "
        "kappa_c (phono3py)",
        description="Lattice dynamics from an mdargy EMD run: snapshots with forces recomputed "
        "in LAMMPS by the run's potential, temperature-dependent effective force constants "
        "(hiPhive), harmonic phonons (phonopy) and the Wigner conductivity kappa = kappa_p + "
        "kappa_c (phono3py, Simoncelli, Marzari & Mauri, Nat. Phys. 2019).")
    ls = p.add_subparsers(dest="lattice_command", metavar="STEP")

    f = ls.add_parser("fit", help="snapshots of an EMD run + hiPhive fit -> fc2.hdf5, fc3.hdf5",
                      description="Take N frames of a finished EMD run, recompute their forces "
                      "in LAMMPS, fit effective force constants with hiPhive and write "
                      "fc2.hdf5/fc3.hdf5 (phonopy/phono3py), model.fcp, snapshots.npz and "
                      "fit.json into OUT. Refuses diffusing runs, unmappable atoms, cutoffs "
                      "too long for the supercell and underdetermined fits.")
    f.add_argument("run_dir", metavar="RUN_DIR", help="finished mdargy EMD run folder")
    f.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    _fit_arguments(f)
    f.add_argument("--force", action="store_true", help="replace an existing fit")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    f.set_defaults(func=run_fit)

    ph = ls.add_parser("phonons", help="dispersion, DOS per element, imaginary modes, figures",
                       description="Harmonic phonons of the fitted fc2 (phonopy): dispersion "
                       "along the high-symmetry path, total and element DOS, group velocities; "
                       "imaginary modes listed with their q-points. Writes phonons.json, "
                       "band.csv, dos.csv, dispersion_<EL>.png, dos.png into each OUT; with "
                       "several OUT folders also dispersions.png (all in one figure).")
    ph.add_argument("fit_dirs", nargs="+", metavar="OUT", help="folder(s) of `lattice fit`")
    ph.add_argument("--mesh", type=int, default=16, help="q-mesh of the DOS (default 16)")
    ph.add_argument("--element", default="Cu",
                    help="element whose weight colours the dispersion (default Cu; the "
                    "first element when absent)")
    ph.add_argument("--force", action="store_true", help="recompute existing phonons.json")
    ph.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    ph.set_defaults(func=run_phonons)

    w = ls.add_parser("wigner", help="kappa_p and kappa_c (phono3py), spectra, mesh check",
                      description="Wigner thermal conductivity (phono3py SMM19, RTA): kappa_p "
                      "(populations) and kappa_c (coherences) as tensors and scalars per "
                      "temperature, spectral and cumulative kappa(ω), optional two-mesh "
                      "convergence check. Writes wigner.json, kappa.csv, spectral_kappa.csv and "
                      "spectral_kappa.png into OUT.")
    w.add_argument("fit_dir", metavar="OUT", help="folder of `lattice fit`")
    w.add_argument("-T", "--temperatures", type=float, nargs="+", metavar="K",
                   help="temperatures in K (default: the fit's temperature)")
    _wigner_arguments(w)
    w.add_argument("--force", action="store_true", help="replace an existing wigner.json")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    w.set_defaults(func=run_wigner)

    r = ls.add_parser("run", help="fit + phonons + wigner at the run's temperature (resumable)",
                      description="The whole chain for one EMD run; each stage's output in OUT "
                      "is reused when present, so a killed run resumes.")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("-o", "--output", required=True, metavar="OUT")
    _fit_arguments(r)
    _wigner_arguments(r)
    r.add_argument("--dos-mesh", type=int, default=12, help="q-mesh of the DOS (default 12)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    r.set_defaults(func=run_all)
    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])
    return p


def _potential(args):
    if not getattr(args, "potential", None):
        return None

    return PotentialSpec.from_toml(args.potential)


def _mesh(v):
    if v is None:
        return None
    if len(v) not in (1, 3):
        raise InputError(f"a mesh is one or three integers, got {v}")
    return v[0] if len(v) == 1 else tuple(v)


def run_fit(args) -> int:
    say = _say(args) or (lambda m: None)
    out = Path(args.output)
    for name in ("fit.json", "fc2.hdf5", "fc3.hdf5", "snapshots.npz"):
        refuse_overwrite(out / name, args.force)
    if args.cutoffs:  # refuse too-long cutoffs before any LAMMPS work

        r = read_run(args.run_dir, _potential(args), args.structure)
        box = np.asarray(r["trajectory"].boxes_A).mean(axis=0)
        resolve_cutoffs(make_reference(r["unitcell"], r["reps"], box).supercell, args.cutoffs,
                        args.max_order)
    out.mkdir(parents=True, exist_ok=True)
    say(f"snapshots: {args.snapshots} frames of {args.run_dir}, forces in LAMMPS")
    snaps = snapshots_from_run(
        args.run_dir, args.snapshots, args.skip_ps, _potential(args), args.structure,
        not args.no_diffusion_check, reference=args.reference, window_ps=args.window_ps,
        progress=lambda i, m: say(f"  forces {i}/{m}") if (i == m or i % 10 == 0) else None)
    if snaps.diffusion is not None:
        say(snaps.diffusion.message)
    snaps.save(out / "snapshots.npz")
    fit = fit_force_constants(snaps, args.cutoffs, args.max_order, args.cv_splits,
                              output_dir=out, progress=say).result
    print(f"effective force constants at {fit.temperature_K:g} K: {fit.n_snapshots} snapshots, "
          f"cutoffs {fit.cutoffs_A} Å, {fit.n_parameters} parameters "
          f"{fit.n_parameters_by_order}")
    print(f"  force RMSE {fit.rmse_eV_A:.4f} eV/Å (forces RMS {fit.force_rms_eV_A:.4f}), "
          f"R² {fit.r2:.4f}, CV RMSE {fit.cv_rmse_eV_A:.4f} eV/Å ({fit.cv_splits}-fold)")
    for m in fit.messages:
        print(f"  note: {m}")
    print(f"  wrote {fit.fc2_path} {fit.fc3_path or ''} -> next: mdargy lattice phonons {out}")
    return 0


def _load_fit(d):
    d = Path(d)
    for name in ("fit.json", "fc2.hdf5", "snapshots.npz"):
        if not (d / name).is_file():
            raise InputError(f"no {name}: not a `mdargy lattice fit` folder", d)
    return FCFitResult.from_json(d / "fit.json"), SnapshotSet.load(d / "snapshots.npz").reference


def run_phonons(args) -> int:
    say = _say(args) or (lambda m: None)
    results = []
    for d in args.fit_dirs:
        d = Path(d)
        fit, ref = _load_fit(d)
        if (d / "phonons.json").is_file() and not args.force:
            say(f"{d}: reusing phonons.json (--force recomputes)")
            ph = PhononResult.from_json(d / "phonons.json")
        else:
            say(f"{d}: phonons at {fit.temperature_K:g} K (phonopy, {args.mesh}³ mesh)")
            ph = compute_phonons(ref.unitcell, ref.reps, read_fc2(d / "fc2.hdf5"),
                                 fit.temperature_K, mesh=args.mesh)
            ph.to_json(d / "phonons.json")
        el = args.element if args.element in ph.elements else ph.elements[0]
        nb = ph.band_freq_THz.shape[1]
        atomic_write_csv(d / "band.csv", ["q_inv_A", "qx", "qy", "qz"]
                         + [f"freq_THz_{s}" for s in range(nb)]
                         + [f"{el}_weight_{s}" for s in range(nb)],
                         [[float(x), *map(float, q), *map(float, f), *map(float, w)]
                          for x, q, f, w in zip(ph.path_x_inv_A, ph.path_qpoints,
                                                ph.band_freq_THz, ph.band_weights[el])])
        els = list(ph.dos_by_element_per_THz)
        atomic_write_csv(d / "dos.csv", ["freq_THz", "total_per_THz"]
                         + [f"{e}_per_THz" for e in els],
                         [[float(f), float(t), *(float(ph.dos_by_element_per_THz[e][i])
                                                 for e in els)]
                          for i, (f, t) in enumerate(zip(ph.dos_freq_THz, ph.dos_total_per_THz))])
        plot_dispersion_weight(ph, el, d / f"dispersion_{el}.png")
        plot_phonon_dos(ph, d / "dos.png")
        print(f"{d}: {ph.summary()}")
        for mode in ph.imaginary_modes[:10]:
            print(f"  imaginary mode: q = {np.round(mode['q'], 4).tolist()} band {mode['band']}: "
                  f"{mode['freq_THz']:.3f} THz ({mode['where']})")
        if len(ph.imaginary_modes) > 10:
            print(f"  ... {len(ph.imaginary_modes) - 10} more in phonons.json")
        results.append(ph)
    if len(results) > 1:
        target = Path(args.fit_dirs[0]).parent / "dispersions.png"
        plot_dispersions(sorted(results, key=lambda r: r.temperature_K), target)
        print(f"dispersions of all {len(results)} in {target}")
    return 0


def _write_wigner(w, d, band):
    comps = ("xx", "yy", "zz", "yz", "xz", "xy")
    atomic_write_csv(d / "kappa.csv", ["T_K", "kappa_p_W_mK", "kappa_c_W_mK", "kappa_total_W_mK"]
                     + [f"kappa_p_{c}_W_mK" for c in comps] + [f"kappa_c_{c}_W_mK" for c in comps],
                     [[T, float(w.kappa_p_scalar_W_mK[i]), float(w.kappa_c_scalar_W_mK[i]),
                       float(w.kappa_total_scalar_W_mK[i]), *map(float, w.kappa_p_W_mK[i]),
                       *map(float, w.kappa_c_W_mK[i])]
                      for i, T in enumerate(w.temperatures_K)])
    e = np.asarray(w.freq_bins_THz)
    rows = []
    for i, T in enumerate(w.temperatures_K):
        for k in range(len(e) - 1):
            rows.append([T, float(0.5 * (e[k] + e[k + 1])),
                         float(w.spectral_kappa_p_W_mK_THz[i][k]),
                         float(w.spectral_kappa_c_W_mK_THz[i][k]),
                         float(w.cumulative_kappa_p_W_mK[i][k + 1]),
                         float(w.cumulative_kappa_c_W_mK[i][k + 1])])
    atomic_write_csv(d / "spectral_kappa.csv",
                     ["T_K", "freq_THz", "kappa_p_W_mK_THz", "kappa_c_W_mK_THz",
                      "cumulative_kappa_p_W_mK", "cumulative_kappa_c_W_mK"], rows)
    for i, T in enumerate(w.temperatures_K):
        name = "spectral_kappa.png" if len(w.temperatures_K) == 1 else f"spectral_kappa_{T:g}K.png"
        plot_spectral_kappa(w, d / name, index=i, band_THz=band)


def _print_wigner(w, band):
    print(w.table())
    if w.classical:
        print(f"  note: {w.classical_note}")
    if len(w.coarse_mesh):
        print(f"  mesh check: {'×'.join(map(str, w.mesh))} vs {'×'.join(map(str, w.coarse_mesh))}:"
              f" kappa_p + kappa_c changes by {', '.join(f'{100 * c:.1f} %' for c in w.mesh_change)}")
    if w.n_ignored_modes:
        print(f"  note: phono3py ignored {w.n_ignored_modes} modes (imaginary or near zero)")
    if band:
        for i, T in enumerate(w.temperatures_K):
            print(f"  {T:g} K: {100 * w.band_share(band[0], band[1], 'c', i):.0f} % of kappa_c and "
                  f"{100 * w.band_share(band[0], band[1], 'p', i):.0f} % of kappa_p from "
                  f"{band[0]:g}–{band[1]:g} THz")


def run_wigner(args) -> int:
    d = Path(args.fit_dir)
    fit, ref = _load_fit(d)
    if not (d / "fc3.hdf5").is_file():
        raise InputError("no fc3.hdf5: fit with --max-order 3 or more", d)
    refuse_overwrite(d / "wigner.json", args.force)
    T = args.temperatures or [fit.temperature_K]
    w = wigner_conductivity(ref.unitcell, ref.reps, read_fc2(d / "fc2.hdf5"),
                            read_fc3(d / "fc3.hdf5"), T, _mesh(args.mesh),
                            _mesh(args.coarse_mesh), args.classical, progress=_say(args))
    w.to_json(d / "wigner.json")
    _write_wigner(w, d, args.band)
    _print_wigner(w, args.band)
    return 0


def run_all(args) -> int:
    res = lattice_from_run(
        args.run_dir, args.output, args.snapshots, args.skip_ps, args.cutoffs, args.max_order,
        args.cv_splits, _mesh(args.mesh), _mesh(args.coarse_mesh), args.dos_mesh,
        args.classical, _potential(args), args.structure, not args.no_diffusion_check,
        reference=args.reference, progress=_say(args), window_ps=args.window_ps)
    out = Path(args.output)

    ph = PhononResult.from_json(out / "phonons.json")
    el = "Cu" if "Cu" in ph.elements else ph.elements[0]
    plot_dispersion_weight(ph, el, out / f"dispersion_{el}.png")
    plot_phonon_dos(ph, out / "dos.png")
    w = WignerResult.from_json(out / "wigner.json")
    _write_wigner(w, out, args.band)
    print(ph.summary())
    _print_wigner(w, args.band)
    print(f"lattice.json, fc2.hdf5, fc3.hdf5, phonons.json, wigner.json in {out}")
    return 0
