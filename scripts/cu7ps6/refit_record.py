#!/usr/bin/env python
"""Ship a refitted Cu7PS6 MTP (``refit_dft.py``) beside the first one, with its record.

Copies ``REFIT/Cu7PS6.mtp`` to ``inputs/potentials/<name>.mtp`` and writes ``<name>.json``: the
file's sha256, what it was fitted on (SevenNet-0 training set plus PBEsol frames and their
weight, the energy offset), the held-out PBEsol split and errors of the shipped and the refitted
potential (``refit.json``), its errors against SevenNet-0, its MD validation (``validate.py``:
300 K lattice constant, D_Cu at 550 K, DOS) and, when given, its E(a) lattice constant. Refuses
(exit 2) unless ``refit.json`` says the refit is closer to PBEsol on the held-out frames, and
never overwrites an existing file unless ``--force``.

Example::

    python scripts/cu7ps6/refit_record.py runs/refit --validate runs/refit/validate \\
        --lattice runs/refit/lattice_constant.json --name Cu7PS6_pbesol_refit
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from mdargy.errors import InputError  # noqa: E402
from mdargy.io.atomic import atomic_write_json  # noqa: E402


def build_record(refit: dict, mtp_bytes: bytes, validate: dict | None, lattice: dict | None,
                 name: str) -> dict:
    s = refit["settings"]
    return {
        "potential": f"{name}.mtp",
        "sha256": hashlib.sha256(mtp_bytes).hexdigest(),
        "status": "refit of Cu7PS6.mtp towards PBEsol; held-out PBEsol frames decide",
        "species_order": refit["species_order"],
        "labels": {"sevennet_training_frames": "inputs/potentials/training/cu7ps6_sevennet.extxyz.gz"
                                               " (split == train), weight 1",
                   "dft": "PBEsol (CP2K, GTH-PBE pseudopotentials, DZVP-MOLOPT-SR, 400 Ry, "
                          "Γ point), results/cu7ps6/dft/",
                   "dft_settings_digest": refit["dft_digest"], "dft_labeler": refit["dft_labeler"],
                   "dft_weight": int(s["dft_weight"]),
                   "energy_offset_eV_atom": refit["energy_offset_eV_atom"],
                   "energy_offset_ref": refit["energy_offset_ref"],
                   "is_dft": "partly: SevenNet-0 and PBEsol frames, PBEsol weighted"},
        "init": "inputs/potentials/Cu7PS6.mtp",
        "split": refit["split"],
        "fit": {k: v for k, v in refit["fit"].items() if k != "loss_history"},
        "against_dft": refit["against_dft"],
        "against_sevennet": refit["against_sevennet"],
        "verdict": refit["verdict"],
        "validation": validate,
        "lattice_constant_E_of_a": lattice,
        "made_by": "scripts/cu7ps6/refit_dft.py, scripts/cu7ps6/validate.py, "
                   "scripts/cu7ps6/lattice_constant.py, scripts/cu7ps6/refit_record.py",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("refit", type=Path, help="output folder of refit_dft.py")
    ap.add_argument("--validate", type=Path, default=None, help="output folder of validate.py")
    ap.add_argument("--lattice", type=Path, default=None, help="lattice_constant.py fit JSON")
    ap.add_argument("--name", default="Cu7PS6_pbesol_refit")
    ap.add_argument("--dest", type=Path, default=common.ROOT / "inputs" / "potentials")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    try:
        refit = json.loads((a.refit / "refit.json").read_text())
        mtp = (a.refit / "Cu7PS6.mtp").read_bytes()
        if not refit.get("verdict", {}).get("closer_to_pbesol"):
            raise InputError("the refit is not closer to PBEsol on the held-out frames: "
                             "not shipped", a.refit / "refit.json")
        val = json.loads((a.validate / "validate.json").read_text()) if a.validate else None
        lat = json.loads(a.lattice.read_text()) if a.lattice else None
        out_mtp, out_json = a.dest / f"{a.name}.mtp", a.dest / f"{a.name}.json"
        for p in (out_mtp, out_json):
            if p.exists() and not a.force:
                raise InputError("exists already; not overwritten (use --force)", p)
        shutil.copyfile(a.refit / "Cu7PS6.mtp", out_mtp)
        rec = build_record(refit, mtp, val, lat, a.name)
        # refit.json records repository paths relative to it; older records held absolute ones
        text = json.dumps(rec).replace(str(common.ROOT) + "/", "")
        atomic_write_json(out_json, json.loads(text))
    except (InputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out_mtp} and {out_json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
