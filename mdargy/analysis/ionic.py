"""Ionic transport of one trajectory in one call: tracer D, σ_ion and Haven ratio, sites and
jumps, density map.

:func:`ionic_transport` is what the CLI (``mdargy ionic all``) and campaigns call per
temperature; each part is also available on its own (:mod:`~mdargy.analysis.diffusion`,
:mod:`~mdargy.analysis.conductivity`, :mod:`~mdargy.analysis.sites`,
:mod:`~mdargy.analysis.density`). Pure arrays in, typed results out.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mdargy.analysis.conductivity import ConductivityResult, ionic_conductivity
from mdargy.analysis.density import DensityResult, density_grid
from mdargy.analysis.diffusion import DiffusionAnalysis, diffusion_coefficients
from mdargy.analysis.sites import (SiteJumpResult, SiteReference, analyse_sites, framework_drift,
                                   tile_reference)
from mdargy.results import Result, provenance

__all__ = ["IonicTransportResult", "ionic_transport"]


@dataclasses.dataclass(frozen=True)
class IonicTransportResult(Result):
    """Tracer diffusion, conductivity, jumps and density of one run.

    ``sites`` and ``density`` are None without a site reference / when not asked for.
    """

    T_K: float
    species: str
    diffusion: DiffusionAnalysis
    conductivity: ConductivityResult
    sites: SiteJumpResult | None
    density: DensityResult | None
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def summary(self) -> dict:
        """Small JSON-ready dict (no MSD arrays, no density grid)."""
        d = self.diffusion[self.species] if self.species in self.diffusion.msd.species else None
        c = self.conductivity
        out = {
            "T_K": self.T_K, "species": self.species,
            "D_cm2_s": None if d is None or not d.diffusing else d.D_cm2_s,
            "D_err_cm2_s": None if d is None or not d.diffusing else d.D_err_cm2_s,
            "diffusion": [{k: v for k, v in x.to_dict().items() if k != "provenance"}
                          for x in self.diffusion.diffusion],
            "conductivity": {k: v for k, v in c.to_dict().items()
                             if k not in ("time_ps", "charge_msd_e2A2", "provenance")},
            "sites": None if self.sites is None else self.sites.to_dict(),
            "density": None if self.density is None else self.density.summary(),
        }
        return out


def ionic_transport(positions, elements, box_A, dt_ps: float, T_K: float, species: str = "Cu",
                    masses=None, charges_e=None, reference: SiteReference | None = None,
                    symmetry_ops=None, paths=None, core_radius_A: float | None = None,
                    density_shape=(48, 48, 48), density_sigma_A: float = 0.0,
                    density_frame_stride: int = 5, density: bool = True,
                    workers: int = 1) -> IonicTransportResult:
    """All ionic-transport results of one trajectory.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3), unwrapped, Å
    elements : sequence of str
    box_A : (3, 3) or (n_frames, 3, 3)
    dt_ps : float
    T_K : float
        Temperature of the run (its measured mean), K.
    species : str
        Mobile species for sites and density.
    masses : per-atom masses for the centre-of-mass correction of the tracer MSD
    charges_e : dict, optional
        Formal charges (default Cu +1, P +5, S −2; must sum to zero).
    reference : SiteReference, optional
        Named sites (e.g. :func:`mdargy.structures.ionic_reference.site_reference`); without
        it there are no site statistics and the density is not folded into a reference cell.
    symmetry_ops, paths, core_radius_A
        As in :func:`mdargy.analysis.density.density_grid` and
        :func:`mdargy.analysis.sites.analyse_sites`.
    """
    el = np.asarray(elements).astype(str)
    diff = diffusion_coefficients(positions, dt_ps, species=el, masses=masses, T_K=T_K,
                                  workers=workers)
    boxes = np.asarray(box_A, float)
    vol = float(np.mean(np.abs(np.linalg.det(boxes)))) if boxes.ndim == 3 else \
        abs(float(np.linalg.det(boxes)))
    cond = ionic_conductivity(positions, dt_ps, el, vol, T_K, charges_e=charges_e,
                              diffusion=diff)
    sites = None
    reps = (1, 1, 1)
    if reference is not None:
        sites = analyse_sites(positions, el, box_A, dt_ps, reference, species,
                              core_radius_A=core_radius_A, paths=paths, T_K=T_K)
        _, _, reps = tile_reference(reference, boxes.mean(axis=0) if boxes.ndim == 3 else boxes)
    dens = None
    if density:
        sel = np.flatnonzero(el == species)
        dens = density_grid(positions[:, sel, :], box_A, shape=density_shape, reps=reps,
                            shift_A=framework_drift(positions, el, species),
                            ops=symmetry_ops if reference is not None else None,
                            sigma_A=density_sigma_A, frame_stride=density_frame_stride,
                            species=species, T_K=T_K)
    return IonicTransportResult(
        T_K=float(T_K), species=species, diffusion=diff, conductivity=cond, sites=sites,
        density=dens,
        provenance=provenance(analysis="ionic_transport", species=species, T_K=T_K,
                              dt_ps=dt_ps, charges_e=charges_e,
                              reference=None if reference is None else reference.name,
                              core_radius_A=core_radius_A, density_shape=density_shape,
                              density_sigma_A=density_sigma_A),
    )
