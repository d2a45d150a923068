"""The labeler of the Cu7PS6 pipeline: an ASE calculator that provides reference energies,
forces and stresses.

DFT is not available here. The labels come from a **universal machine-learning potential, not
from DFT** (the paper used PBEsol AIMD). Choices, by name:

* ``"sevennet"`` — SevenNet-0 (``pip install sevenn``; weights ship inside the wheel).
* ``"chgnet"``   — CHGNet 0.3.0 (``pip install chgnet==0.3.0``; needs the pretrained weights in
  the installed package, which some mirrors strip; the error says so).
* ``"lj-standin"`` — a Lennard-Jones calculator from ASE. **Not a model of Cu7PS6**: a cheap
  stand-in that lets the pipeline be dry-run and tested in seconds. Everything it produces is
  flagged ``labeler_is_standin = True``.

Install the ML labelers in a separate environment: ``pip install torch==2.13.0`` (CPU build)
first, then ``pip install .[train]`` and ``pip install sevenn``.
"""

from __future__ import annotations

LABELERS = ("sevennet", "chgnet", "lj-standin")


def describe(name: str) -> dict:
    """A provenance record of the labeler: what it is and that it is not DFT."""
    from importlib import metadata

    info = {"name": name, "is_dft": False, "labeler_is_standin": name == "lj-standin"}
    pkg = {"sevennet": "sevenn", "chgnet": "chgnet"}.get(name)
    if pkg:
        try:
            info["version"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info["version"] = None
        try:
            info["torch"] = metadata.version("torch")
        except metadata.PackageNotFoundError:
            pass
    info["note"] = {
        "sevennet": "SevenNet-0 (7net-0) universal ML potential; labels are NOT DFT",
        "chgnet": "CHGNet 0.3.0 universal ML potential; labels are NOT DFT",
        "lj-standin": "Lennard-Jones STAND-IN (not Cu7PS6 physics): for dry runs and tests only",
    }[name]
    return info


def get_calculator(name: str, threads: int = 1):
    """Return an ASE calculator for labeler ``name`` (see module docstring)."""
    if name not in LABELERS:
        raise SystemExit(f"unknown labeler {name!r}; choose one of {LABELERS}")
    if name == "lj-standin":
        from ase.calculators.lj import LennardJones

        # sigma chosen so that the pair minimum (2^(1/6) sigma) sits near the Cu–S bond
        return LennardJones(sigma=2.0, epsilon=0.05, rc=5.0, smooth=True)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError as exc:
        raise SystemExit(
            "the ML labelers need torch: `pip install torch==2.13.0` (CPU build) first"
        ) from exc
    if name == "sevennet":
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise SystemExit("labeler 'sevennet' needs `pip install sevenn`") from exc
        return SevenNetCalculator("7net-0", device="cpu")
    try:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError as exc:
        raise SystemExit(
            "labeler 'chgnet' needs `pip install chgnet==0.3.0` (and ase<3.23, which it imports "
            "ExpCellFilter from)"
        ) from exc
    try:
        model = CHGNet.load()
    except FileNotFoundError as exc:
        raise SystemExit(
            f"CHGNet's pretrained weights are missing from the installed package ({exc}); this "
            "wheel was stripped of them. Use --labeler sevennet."
        ) from exc
    return CHGNetCalculator(model=model, use_device="cpu")
