"""kinisi (McCluskey, Coles & Morgan, J. Chem. Theory Comput. 2024) as a peer for mdargy's D.

Used by tests/test_diffusion_kinisi.py and scripts/ionic/compare_kinisi.py: the same unwrapped
positions are handed to kinisi as ASE frames in a fixed orthorhombic box (kinisi re-unwraps
them frame to frame, so steps must stay below half the box) and kinisi's Bayesian regression
(emcee) gives the posterior of D. kinisi removes the drift of the other ("framework") atoms; with
one species only there is no framework, so pass ``remove_com=False`` to mdargy for a like-for-
like comparison.
"""

from __future__ import annotations

import numpy as np


def kinisi_diffusion(positions, cell_A, dt_ps, symbols, specie, start_dt_ps, n_dt=64,
                     n_samples=500, seed=0):
    """D (cm²/s) median and standard deviation of kinisi's posterior, and seconds taken.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3), Å, unwrapped
    cell_A : (3,) orthorhombic box lengths, Å
    dt_ps : time between frames, ps
    symbols : list of str, one per atom
    specie : the species to analyse
    start_dt_ps : start of the diffusive regime, ps
    n_dt : number of evenly spaced time intervals kinisi evaluates (its default is every lag)
    """
    import time

    import scipp as sc
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer

    t0 = time.perf_counter()
    x = np.asarray(positions, float)
    n = x.shape[0]
    frames = [Atoms(symbols=list(symbols), positions=np.mod(p, cell_A), cell=np.diag(cell_A),
                    pbc=True) for p in x]
    idx = np.unique(np.round(np.linspace(1, n - 1, n_dt)).astype(int))
    dt = sc.array(dims=["time interval"], values=idx * float(dt_ps), unit="ps")
    an = DiffusionAnalyzer.from_ase(frames, specie=specie,
                                    time_step=sc.scalar(float(dt_ps), unit="ps"),
                                    step_skip=sc.scalar(1, unit=sc.units.dimensionless), dt=dt, progress=False)
    an.diffusion(sc.scalar(float(start_dt_ps), unit="ps"), n_samples=n_samples, progress=False,
                 random_state=np.random.RandomState(seed))
    D = np.asarray(an.D.values, float)
    return float(np.median(D)), float(np.std(D)), time.perf_counter() - t0
