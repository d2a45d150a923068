"""``mdargy kappa``: extrapolate NEMD κ(L) to infinite length, 1/κ = 1/κ∞ + A/L.

Inputs are NEMD ``result.json`` files (fields ``kappa_W_mK``, ``kappa_err_W_mK``, ``length_A``,
``T_mean_K`` or a temperature; found at the top level or in nested sections), or CSV tables with
columns ``L_A,kappa_W_mK[,kappa_err_W_mK][,T_K]``. Results at several temperatures are grouped
by temperature (``--T-tolerance``) and extrapolated separately; κ∞(T) is then plotted too.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mdargy.analysis.kappa import KAPPA_INF_COLUMNS, extrapolate_kappa_per_T, kappa_inf_row
from mdargy.cli.common import prepare_output
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json
from mdargy.plots import new_figure, save_figure
from mdargy.plots.kappa import plot_kappa_extrapolation, plot_kappa_vs_T

OUTPUTS = ("kappa.json", "kappa.csv", "kappa_points.csv", "kappa_extrapolation.png")

_KAPPA = ("kappa_W_mK", "kappa_w_mk", "kappa")
_ERR = ("kappa_err_W_mK", "kappa_sem_W_mK", "kappa_std_W_mK", "kappa_error_W_mK", "kappa_err")
_LEN = ("length_A", "L_A", "bar_length_A", "box_length_A", "length", "L")
_TEMP = ("T_mean_K", "T_K", "temperature_K", "T_target_K", "temperature", "T")


def _find(d, keys, scalar=True):
    """First value for any of ``keys`` in ``d``, searching nested dicts breadth-first."""
    queue = [d]
    while queue:
        cur = queue.pop(0)
        for k in keys:
            if k in cur and cur[k] is not None:
                v = cur[k]
                if not scalar or isinstance(v, (int, float)) and not isinstance(v, bool):
                    return v
        queue += [v for v in cur.values() if isinstance(v, dict)]
    return None


def read_json_result(path: Path):
    """(L_A, κ, σ or None, T_K or None) from one NEMD result file."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read JSON ({exc})", path)
    if not isinstance(d, dict):
        raise InputError("expected a JSON object with kappa_W_mK and length_A", path)
    for keys in (_KAPPA, _LEN, _ERR, _TEMP):  # a string where a number belongs: say so
        raw = _find(d, keys, scalar=False)
        if isinstance(raw, str) and _find(d, keys) is None:
            key = next(k for k in keys if _find(d, (k,), scalar=False) is not None)
            raise InputError(f"{key} must be a number, got {raw!r} ({type(raw).__name__})", path)
    k = _find(d, _KAPPA)
    L = _find(d, _LEN)
    if k is None:
        raise InputError(f"no thermal conductivity found (looked for {', '.join(_KAPPA)})", path)
    if L is None:
        raise InputError(f"no length found (looked for {', '.join(_LEN)})", path)
    return float(L), float(k), _find(d, _ERR), _find(d, _TEMP)


def read_csv_results(path: Path):
    """Rows (L_A, κ, σ or None, T_K or None) from a CSV table."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read ({exc})", path)
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    fields = {f.strip(): f for f in (reader.fieldnames or [])}

    def col(names):
        for n in names:
            if n in fields:
                return fields[n]
        return None

    cL, ck = col(("L_A",) + _LEN), col(_KAPPA)
    ce, cT = col(_ERR), col(("T_K",) + _TEMP)
    if cL is None or ck is None:
        raise InputError(
            f"CSV needs columns L_A and kappa_W_mK (optional kappa_err_W_mK, T_K); found "
            f"{', '.join(fields) or 'no header'}", path)
    rows = []
    for i, r in enumerate(reader, start=2):
        try:
            rows.append((float(r[cL]), float(r[ck]),
                         float(r[ce]) if ce and r[ce].strip() else None,
                         float(r[cT]) if cT and r[cT].strip() else None))
        except (TypeError, ValueError):
            raise InputError("not a number in this row", path, i)
    if not rows:
        raise InputError("no data rows", path)
    return rows


def add_parser(sub):
    p = sub.add_parser(
        "kappa",
        help="extrapolate NEMD kappa(L) to infinite length: 1/kappa = 1/kappa_inf + A/L",
        description="Weighted fit of 1/κ = 1/κ∞ + A/L to NEMD results at several lengths, per "
        "temperature; κ∞ ± σ, fit quality, effective mean free path and warnings. Writes JSON, "
        "CSV and PNG.",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="NEMD result.json files (or run directories holding one), or CSV "
                   "tables L_A,kappa_W_mK,kappa_err_W_mK[,T_K]")
    p.add_argument("-T", "--temperature", type=float, metavar="K",
                   help="temperature to use when the inputs carry none")
    p.add_argument("--T-tolerance", type=float, default=15.0, metavar="K",
                   help="results whose temperatures differ by less than this are one group "
                   "(default 15 K: NEMD mean temperatures scatter)")
    p.add_argument("--unweighted", action="store_true",
                   help="ignore the κ errors (unweighted fit, errors from the scatter)")
    p.add_argument("-o", "--output", metavar="DIR", default="kappa-extrapolation",
                   help="output directory (default kappa-extrapolation)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=run)
    return p


def _collect(paths, default_T):
    pts = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            cand = [p / "result.json", p / "nemd.json", p / "results.json"]
            found = [c for c in cand if c.exists()]
            if not found:
                raise InputError("directory holds no result.json", p)
            p = found[0]
        if not p.exists():
            raise InputError("no such file", p)
        rows = read_csv_results(p) if p.suffix.lower() == ".csv" else [read_json_result(p)]
        for L, k, e, T in rows:
            pts.append((L, k, e, T if T is not None else default_T, str(p)))
    return pts


def run(args) -> int:
    outdir = prepare_output(args.output, OUTPUTS + ("kappa_vs_T.png",), args.force)
    pts = _collect(args.results, args.temperature)
    L, k, e, T, _ = zip(*pts)
    per_T = extrapolate_kappa_per_T(T, L, k, e, tolerance_K=args.T_tolerance,
                                    weighted=not args.unweighted)
    if per_T.skipped:
        raise InputError("; ".join(
            f"{n} result(s)" + (f" at T = {t:.0f} K" if t is not None else "") + f": {why}"
            for t, n, why in per_T.skipped))
    fits = list(per_T.fits)
    for f in fits:
        if not f.weighted and not args.unweighted:
            where = f" at T = {f.T_K:.0f} K" if f.T_K is not None else ""
            print(f"note: some results{where} have no kappa error; unweighted fit")

    single = len(fits) == 1
    atomic_write_json(outdir / "kappa.json", {"extrapolations": [f.to_dict() for f in fits]})
    atomic_write_csv(outdir / "kappa.csv", KAPPA_INF_COLUMNS, [kappa_inf_row(f) for f in fits])
    atomic_write_csv(outdir / "kappa_points.csv",
                     ["T_K", "L_A", "kappa_W_mK", "kappa_err_W_mK", "source"],
                     [["" if p[3] is None else p[3], p[0], p[1], "" if p[2] is None else p[2],
                       p[4]] for p in pts])
    if single:
        plot_kappa_extrapolation(fits[0], path=outdir / "kappa_extrapolation.png")
    else:
        fig, ax = new_figure()
        for f in fits:
            plot_kappa_extrapolation(f, ax=ax)
        ax.set_title("Length extrapolation per temperature")
        save_figure(fig, outdir / "kappa_extrapolation.png")
        withT = [f for f in fits if f.T_K is not None]
        if len(withT) >= 2:
            plot_kappa_vs_T(withT, path=outdir / "kappa_vs_T.png")

    print("1/kappa = 1/kappa_inf + A/L")
    print(f"{'T (K)':>8} {'n_L':>4} {'L range (Å)':>16} {'kappa_inf (W/mK)':>17} {'± σ':>8} "
          f"{'chi2_red':>9} {'Λ_eff (Å)':>10}")
    for f in fits:
        T = "-" if f.T_K is None else f"{f.T_K:.0f}"
        rng = f"{f.length_A.min():.4g}-{f.length_A.max():.4g}"
        print(f"{T:>8} {len(f.length_A):>4} {rng:>16} {f.kappa_inf_W_mK:>17.4g} "
              f"{f.kappa_inf_err_W_mK:>8.2g} {f.chi2_red:>9.2f} {f.mfp_eff_A:>10.4g}")
        if not f.length_dependence_resolved:
            print(f"  no length dependence resolved (A = {f.A_AmK_W:.3g} ± {f.A_err_AmK_W:.2g} "
                  f"Å m K/W): kappa over these lengths = {f.kappa_mean_W_mK:.4g} ± "
                  f"{f.kappa_mean_err_W_mK:.2g} W/mK (weighted mean"
                  + (f", p = {f.mean_p_value:.2g})" if f.weighted else ")"))
        for w in f.warnings:
            print(f"  warning: {w}")
    print(f"wrote {outdir}/")
    return 0
