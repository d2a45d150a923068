#!/usr/bin/env python
"""Label configurations with any labeler, one file per configuration, resumably.

``label``: every frame of FRAMES (extxyz) is labelled with the labeler of CONFIG
(``labelers.py``: CP2K, SevenNet-0, an MTP in LAMMPS or any ASE calculator) and written to
``OUT/labels/<frame_id>.extxyz``: the frame with energy (eV), forces (eV/Å) and stress
(eV/Å³, ASE Voigt order), and in its ``info`` the labeler's kind, full settings and digest,
the frame's sha256, the SCF facts and the wall time. ``OUT/labeler.json`` records the settings
of the directory.

Resuming: a frame whose file exists with the same settings digest and frame hash is skipped.
A file with other settings, or for another configuration under the same id, is an error: a
directory never mixes settings. A failed frame (e.g. SCF not converged) leaves
``OUT/failed/<frame_id>.json`` and no label; the next run tries it again.

Several processes may label the same OUT at once (two shells, overlapping array tasks): each
frame is labelled under an exclusive lock (``OUT/work/<frame_id>.lock``, released when the
process ends, even by a crash), and a frame locked by another process is passed over, so no two
processes ever share a frame's work folder.

Cluster (Slurm array): ``--task-id`` (default ``$SLURM_ARRAY_TASK_ID``) with ``--chunk N``
labels frames ``[id*N, (id+1)*N)``; see ``scripts/cp2k/label_array.slurm``.

``collect``: all labels of OUT, in FRAMES order, into one (gzipped) extxyz.
``status``: counts of labelled, failed and missing frames and the mean wall time.
``restore``: the inverse of ``collect``: a collected (committed) file back into
``OUT/labels/``, checked against CONFIG's settings digest and the frames' hashes, so that
labelling resumes on a fresh machine from the committed labels instead of redoing them.
Existing label files are never overwritten.

Examples::

    python scripts/cu7ps6/label.py label scripts/cp2k/pbesol_gamma.toml \\
        results/cu7ps6/dft/frames_56.extxyz runs/dft/pbesol_400Ry
    python scripts/cu7ps6/label.py collect results/cu7ps6/dft/frames_56.extxyz \\
        runs/dft/pbesol_400Ry results/cu7ps6/dft/pbesol_56.extxyz.gz
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import ase
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labelers  # noqa: E402

from mdargy.errors import InputError, MdargyError  # noqa: E402
from mdargy.io.atomic import atomic_write_bytes, atomic_write_json  # noqa: E402


def frame_hash(atoms) -> str:
    """sha256 (16 hex digits) of numbers, positions (rounded to 1e-6 Å), cell and pbc."""
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=float), 6).tobytes())
    h.update(np.round(np.asarray(atoms.cell.array, dtype=float), 6).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    return h.hexdigest()[:16]


def frame_ids(frames) -> list[str]:
    """``info['frame_id']`` of every frame, else ``f00000`` by position; ids must be unique."""
    ids = [str(f.info.get("frame_id", f"f{i:05d}")) for i, f in enumerate(frames)]
    if len(set(ids)) != len(ids):
        raise InputError("frame_id values are not unique")
    return ids


def read_frames(path) -> list:
    p = Path(path)
    if not p.exists():
        raise InputError("frames file not found", p)
    return read(p, index=":", format="extxyz")


def check_directory(out: Path, cfg: labelers.LabelerConfig) -> None:
    """Write ``out/labeler.json`` or check that it holds the same settings digest."""
    rec = cfg.record()
    man = out / "labeler.json"
    if man.exists():
        old = json.loads(man.read_text())
        if old.get("digest") != rec["digest"]:
            raise InputError(
                f"labelled with other settings (digest {old.get('digest')}, kind "
                f"{old.get('kind')}) than {cfg.path} (digest {rec['digest']}); a directory never "
                "mixes settings: use another output directory", man)
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(man, rec)


def existing_label(path: Path, digest: str, fhash: str) -> bool:
    """True when ``path`` is a finished label of this frame with these settings; an error when
    it is a label with other settings or of another configuration."""
    if not path.exists():
        return False
    try:
        old = read(path, format="extxyz")
    except Exception as exc:  # noqa: BLE001  (a truncated file cannot happen: atomic writes)
        raise InputError(f"unreadable label file ({exc}); remove it to relabel", path) from None
    if old.info.get("labeler_digest") != digest:
        raise InputError(f"labelled with settings digest {old.info.get('labeler_digest')}, "
                         f"not {digest}: refusing to mix settings", path)
    if old.info.get("frame_sha256") != fhash:
        raise InputError("holds another configuration under the same frame_id "
                         f"(hash {old.info.get('frame_sha256')} vs {fhash})", path)
    return True


def labelled_atoms(frame, results: dict, meta: dict, cfg, fhash: str):
    """A copy of ``frame`` with the results as a single-point calculator and provenance."""
    at = frame.copy()
    at.calc = None
    for k in ("momenta", "forces", "energies", "stress"):
        at.arrays.pop(k, None)
    info = {k: v for k, v in frame.info.items()
            if k not in ("energy", "stress", "free_energy")}
    info.update(labeler_kind=cfg.kind, labeler_digest=cfg.digest,
                labeler_settings=json.dumps(cfg.settings, sort_keys=True, default=str),
                labeler_is_dft=cfg.kind == "cp2k", frame_sha256=fhash,
                label_meta=json.dumps(meta, sort_keys=True, default=str),
                ase_version=ase.__version__, host=platform.node())
    if cfg.kind == "cp2k":
        info["labeler_note"] = labelers.CP2K_NOTE
    at.info = info
    at.calc = SinglePointCalculator(at, energy=results["energy"], forces=results["forces"],
                                    stress=results["stress"])
    return at


def write_label(path: Path, atoms) -> None:
    buf = io.StringIO()
    write(buf, atoms, format="extxyz")
    atomic_write_bytes(path, buf.getvalue().encode())


@contextlib.contextmanager
def frame_lock(out: Path, fid: str):
    """Hold an exclusive lock on frame ``fid`` of ``out``; yields False if another process has it.

    An ``flock`` on ``out/work/<fid>.lock``: the kernel drops it when the holder exits, so a
    killed labeller leaves no stale lock behind.
    """
    (out / "work").mkdir(parents=True, exist_ok=True)
    with open(out / "work" / f"{fid}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def select(n: int, task_id, chunk: int | None, only) -> list[int]:
    idx = list(range(n))
    if only:
        idx = [i for i in only if 0 <= i < n]
    if task_id is not None:
        if not chunk or chunk < 1:
            raise InputError("--task-id needs --chunk N (frames per array task)")
        idx = idx[int(task_id) * chunk:(int(task_id) + 1) * chunk]
    return idx


def cmd_label(a) -> int:
    cfg = labelers.load_config(a.config)
    if a.cp2k_command:
        cfg = dataclasses.replace(cfg, run=dict(cfg.run, command=a.cp2k_command))
    frames = read_frames(a.frames)
    ids = frame_ids(frames)
    out = Path(a.out)
    check_directory(out, cfg)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    task = a.task_id if a.task_id is not None else os.environ.get("SLURM_ARRAY_TASK_ID")
    todo = select(len(frames), task, a.chunk, a.only)
    labeler = None
    n_done = n_skip = n_fail = n_busy = 0
    for k, i in enumerate(todo):
        fid, frame = ids[i], frames[i]
        path = out / "labels" / f"{fid}.extxyz"
        fh = frame_hash(frame)
        if existing_label(path, cfg.digest, fh):
            n_skip += 1
            continue
        if a.max_frames is not None and n_done + n_fail >= a.max_frames:
            break
        with frame_lock(out, fid) as mine:
            if not mine:
                n_busy += 1
                print(f"[{k + 1}/{len(todo)}] {fid}: being labelled by another process, "
                      "passed over", flush=True)
                continue
            if existing_label(path, cfg.digest, fh):  # finished by another process meanwhile
                n_skip += 1
                continue
            if labeler is None:
                labeler = labelers.make_labeler(cfg)
            t0 = time.time()
            print(f"[{k + 1}/{len(todo)}] {fid} ({len(frame)} atoms) ...", flush=True)
            try:
                results, meta = labeler(frame, out / "work" / fid)
            except MdargyError as exc:
                n_fail += 1
                (out / "failed").mkdir(exist_ok=True)
                atomic_write_json(out / "failed" / f"{fid}.json",
                                  {"frame_id": fid, "error": str(exc), "digest": cfg.digest,
                                   "traceback": traceback.format_exc()})
                print(f"    FAILED: {exc}", flush=True)
                continue
            write_label(path, labelled_atoms(frame, results, meta, cfg, fh))
            (out / "failed" / f"{fid}.json").unlink(missing_ok=True)
        n_done += 1
        fmax = float(np.abs(results["forces"]).max())
        print(f"    E = {results['energy'] / len(frame):.6f} eV/atom, max|F| = {fmax:.3f} eV/Å, "
              f"{time.time() - t0:.0f} s, " + ", ".join(f"{k}={v}" for k, v in meta.items()
                                                        if k != "wall_s"), flush=True)
    busy = f", passed over {n_busy} (another process had them)" if n_busy else ""
    print(f"labelled {n_done}, skipped {n_skip} (already labelled), failed {n_fail}{busy}, "
          f"of {len(todo)} selected; settings digest {cfg.digest}")
    return 1 if n_fail else 0


def load_labels(frames_path, out) -> list:
    """The labels of directory ``out`` in the order of the frames file (missing ones left out)."""
    frames = read_frames(frames_path)
    got = []
    for fid in frame_ids(frames):
        p = Path(out) / "labels" / f"{fid}.extxyz"
        if p.exists():
            got.append(read(p, format="extxyz"))
    return got


def cmd_collect(a) -> int:
    got = load_labels(a.frames, a.out)
    digests = {at.info.get("labeler_digest") for at in got}
    if len(digests) > 1:
        raise InputError(f"labels with several settings digests {sorted(digests)}", a.out)
    buf = io.StringIO()
    write(buf, got, format="extxyz")
    data = buf.getvalue().encode()
    dest = Path(a.dest)
    if dest.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(dest, data)
    print(f"{len(got)} labelled frames -> {dest}")
    return 0


def cmd_restore(a) -> int:
    cfg = labelers.load_config(a.config)
    frames = read_frames(a.frames)
    hashes = {frame_hash(f): fid for fid, f in zip(frame_ids(frames), frames)}
    src = Path(a.labels)
    if not src.exists():
        raise InputError("labels file not found", src)
    got = read(src, index=":", format="extxyz")
    out = Path(a.out)
    check_directory(out, cfg)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    n_new = n_kept = 0
    for k, at in enumerate(got):
        if at.info.get("labeler_digest") != cfg.digest:
            raise InputError(f"frame {k}: settings digest {at.info.get('labeler_digest')}, not "
                             f"{cfg.digest} of {cfg.path}", src)
        fh = at.info.get("frame_sha256")
        if fh not in hashes:
            raise InputError(f"frame {k}: its configuration (hash {fh}) is not in {a.frames}",
                             src)
        path = out / "labels" / f"{hashes[fh]}.extxyz"
        if existing_label(path, cfg.digest, fh):
            n_kept += 1
            continue
        write_label(path, at)
        n_new += 1
    print(f"restored {n_new} labels into {out / 'labels'} ({n_kept} already there)")
    return 0


def cmd_status(a) -> int:
    frames = read_frames(a.frames)
    ids = frame_ids(frames)
    out = Path(a.out)
    done = [i for i in ids if (out / "labels" / f"{i}.extxyz").exists()]
    failed = [i for i in ids if (out / "failed" / f"{i}.json").exists()]
    walls = [json.loads(read(out / "labels" / f"{i}.extxyz").info["label_meta"]).get("wall_s")
             for i in done]
    walls = [w for w in walls if w is not None]
    print(json.dumps({"frames": len(ids), "labelled": len(done), "failed": failed,
                      "missing": len(ids) - len(done),
                      "mean_wall_min": float(np.mean(walls)) / 60 if walls else None}, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("label", help="label frames (resumable)")
    p.add_argument("config", help="labeler TOML file")
    p.add_argument("frames", help="extxyz file of configurations")
    p.add_argument("out", help="output directory (labels/<frame_id>.extxyz)")
    p.add_argument("--task-id", type=int, default=None,
                   help="array task index (default $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--chunk", type=int, default=None, help="frames per array task")
    p.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="comma-separated frame indices (0-based) to label")
    p.add_argument("--max-frames", type=int, default=None,
                   help="stop after labelling this many new frames")
    p.add_argument("--cp2k-command", default=None,
                   help="command starting the CP2K shell, instead of [run] command "
                        "(e.g. 'srun cp2k.psmp -s' on a cluster)")
    p.set_defaults(fn=cmd_label)
    p = sub.add_parser("collect", help="gather the labels into one extxyz(.gz)")
    p.add_argument("frames")
    p.add_argument("out")
    p.add_argument("dest")
    p.set_defaults(fn=cmd_collect)
    p = sub.add_parser("restore", help="put collected labels back into OUT (the inverse of "
                                       "collect), to resume on a fresh machine")
    p.add_argument("config", help="labeler TOML file the labels were made with")
    p.add_argument("frames")
    p.add_argument("labels", help="collected extxyz(.gz) file")
    p.add_argument("out")
    p.set_defaults(fn=cmd_restore)
    p = sub.add_parser("status", help="what is labelled")
    p.add_argument("frames")
    p.add_argument("out")
    p.set_defaults(fn=cmd_status)
    a = ap.parse_args(argv)
    try:
        return a.fn(a)
    except MdargyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)


if __name__ == "__main__":
    raise SystemExit(main())
