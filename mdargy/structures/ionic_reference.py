"""Named-site references for the ionic-transport analysis (:mod:`mdargy.analysis.sites`).

``site_reference("cu7ps6")`` gives the Cu sites of the superionic F-43m Cu7PS6 cell — Cu1 and
Cu2 on 48h, Cu3 on 16e, derived from the sulphur framework by :mod:`mdargy.structures.cu7ps6`
— with the P and S framework (to check that a trajectory sits on the same origin), the 96
F-43m operations (for symmetry-averaged density maps) and the path classes of the paper's two
Cu pathways: jumps touching a Cu3 site belong only to the indirect, inter-tetrahedral path
Cu3–Cu1–Cu2–Cu2–Cu1–Cu3; the other jumps (Cu1–Cu2, Cu2–Cu2) are those of the direct,
intra-tetrahedral path Cu1–Cu2–Cu2–Cu1 (which the indirect one also uses).
"""

from __future__ import annotations

import numpy as np

from mdargy.analysis.sites import SiteReference
from mdargy.errors import InputError
from mdargy.structures.cu7ps6 import (A_DEFAULT, cu_candidate_sites, f43m_operations,
                                      framework_sites)

__all__ = ["REFERENCES", "site_reference"]

#: Built-in references: name -> (description, mobile species, default formal charges).
REFERENCES = {
    "cu7ps6": ("Cu7PS6 F-43m: Cu1 (48h), Cu2 (48h), Cu3 (16e) sites", "Cu",
               {"Cu": 1.0, "P": 5.0, "S": -2.0}),
}

#: Path classes of Cu7PS6 (see the module docstring).
CU7PS6_PATHS = {"inter-tetrahedral (via Cu3)": ("Cu3",)}


def site_reference(name: str = "cu7ps6", a_A: float | None = None):
    """(SiteReference, symmetry operations, path classes) of a built-in reference.

    Parameters
    ----------
    name : str
        "cu7ps6".
    a_A : float, optional
        Lattice constant of the reference cell (default: that of :mod:`mdargy.structures.cu7ps6`;
        the trajectory cell may differ by a few % — only its integer multiple matters).
    """
    key = str(name).lower()
    if key != "cu7ps6":
        raise InputError(f"unknown site reference {name!r} (have: {', '.join(REFERENCES)})")
    a = float(a_A or A_DEFAULT)
    sites = cu_candidate_sites(a)
    fw = framework_sites(a)
    ref = SiteReference(
        name="Cu7PS6 F-43m",
        cell_A=np.eye(3) * a,
        frac=np.vstack(list(sites.values())),
        labels=tuple(k.split("_")[0] for k, v in sites.items() for _ in v),
        framework={"P": fw["P_4b"],
                   "S": np.vstack([fw["S1_4a"], fw["S2_4c"], fw["S3_16e"]])},
    )
    return ref, f43m_operations(), dict(CU7PS6_PATHS)
