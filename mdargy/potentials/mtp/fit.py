"""Levenberg–Marquardt fit of all MTP parameters, on motep's training engine.

Needs ``motep`` (the ``train`` extra: ``pip install mdargy[train]``); it is imported when a
problem is set up, so this module imports without it.

Why not motep's own L-BFGS-B: on Cu7PS6 it barely moves the radial coefficients (the loss
changed by 1e-14 in its first iteration and a line search then took minutes), so the fit
stays close to a linear least-squares fit on the starting radial functions. The loss is a sum
of squares, and motep's training engine returns the Jacobian of every energy, force and
stress with respect to every parameter (``engine.jac_energy/jac_forces/jac_stress``), so a
Gauss–Newton method with Marquardt's scaled damping (Marquardt 1963; Nocedal & Wright,
*Numerical Optimization*, ch. 10) applies directly. It converges in tens of iterations.

Residuals of configuration k (N_k atoms, volume V_k, n configurations in all) are those of
motep's loss (``energy_per_atom``, ``forces_per_atom``, ``stress_times_volume``, all
``per_conf``)::

    r_E = sqrt(w_E/n) (E - E_ref) / N_k
    r_F = sqrt(w_F/n) (F - F_ref) / sqrt(N_k)                (3 N_k entries)
    r_S = sqrt(w_S/n) (sigma - sigma_ref) V_k / N_k          (9 entries, eV/atom)

so the loss r·r equals motep's. Under MPI every rank owns a share of the configurations and
the normal equations J^T J, J^T r are summed with ``Allreduce``.
"""

from __future__ import annotations

import time

import numpy as np

from mdargy.lammps.runtime import get_comm

__all__ = ["LMProblem", "levenberg_marquardt"]


class LMProblem:
    """The residuals and Jacobian of a set of labelled configurations for one motep ``MTPData``.

    Parameters
    ----------
    images : sequence of ase.Atoms
        Labelled configurations (energy in eV, forces in eV/Å, stress in eV/Å³ as single-point
        results, or motep's ``calc.targets``).
    mtp_data : motep.io.mlip.mtp.MTPData
        The potential; its parameters are changed in place by :meth:`set_parameters`.
    weights : (w_E, w_F, w_S)
        motep's loss weights of energies, forces and stresses.
    comm : mpi4py communicator, optional
        Configurations are shared out over its ranks (default COMM_WORLD).
    frame_weights : sequence of float, optional
        A weight per configuration (default 1 each). A configuration of weight w counts as w
        copies of it: its residuals are scaled by sqrt(w) and the loss is normalised by the sum
        of the weights, so the loss equals that of the set with each frame repeated w times,
        at the cost of one copy.
    """

    def __init__(self, images, mtp_data, weights=(1.0, 0.01, 0.001), comm=None,
                 frame_weights=None):
        from ase.stress import voigt_6_to_full_3x3_stress
        from motep.calculator import MTP

        self.comm = get_comm(comm)
        self.data = mtp_data
        self.data.optimized = ["species_coeffs", "moment_coeffs", "radial_coeffs"]
        fw = np.ones(len(images)) if frame_weights is None else np.asarray(frame_weights, float)
        if fw.shape != (len(images),) or not np.all(np.isfinite(fw)) or np.any(fw <= 0):
            raise ValueError(f"frame_weights: need {len(images)} positive finite weights, got "
                             f"shape {fw.shape}")
        self.n_total = float(fw.sum())
        self.w = weights
        self.items = []
        for k in range(self.comm.rank, len(images), self.comm.size):
            src = images[k]
            at = src.copy()
            calc = MTP(self.data, engine="cext", mode="train")
            at.calc = calc
            n = len(at)
            # motep's Trainer swaps the calculator and keeps the labels as `calc.targets`
            ref = getattr(src.calc, "targets", None) or src.calc.results
            s_ref = ref.get("stress")
            self.items.append(dict(
                atoms=at, n=n, V=at.get_volume(), e=float(ref["energy"]), sw=np.sqrt(fw[k]),
                f=np.array(ref["forces"]),
                s=None if s_ref is None else voigt_6_to_full_3x3_stress(np.asarray(s_ref))))

    @property
    def parameters(self):
        return np.array(self.data.parameters, dtype=float)

    def set_parameters(self, x):
        self.data.parameters = np.array(x, dtype=float)
        for it in self.items:
            it["atoms"].calc.update_parameters(self.data)

    def _rows(self, it, jac=True):
        """Residual vector (and Jacobian rows) of one configuration."""
        from ase.stress import voigt_6_to_full_3x3_stress

        at, n, V = it["atoms"], it["n"], it["V"]
        wE, wF, wS = (np.sqrt(w / self.n_total) for w in self.w)
        e = at.get_potential_energy()
        f = at.get_forces()
        r = [np.array([wE * (e - it["e"]) / n]), (wF / np.sqrt(n)) * (f - it["f"]).ravel()]
        J = None
        eng = at.calc.engine
        if jac:
            je = np.asarray(eng.jac_energy(at).parameters)
            jf = np.asarray(eng.jac_forces(at).parameters).reshape(len(je), -1).T
            J = [wE * je[None, :] / n, (wF / np.sqrt(n)) * jf]
        if it["s"] is not None and self.w[2] > 0:
            s = voigt_6_to_full_3x3_stress(at.get_stress())
            r.append((wS * V / n) * (s - it["s"]).ravel())
            if jac:
                # motep's jac_stress is d(sigma)/dp, sigma in ASE's convention (eV/Å³);
                # checked against finite differences
                js = np.asarray(eng.jac_stress(at).parameters).reshape(len(je), 9).T
                J.append((wS * V / n) * js)
        sw = it["sw"]
        r = sw * np.concatenate(r)
        return (r, sw * np.vstack(J)) if jac else (r, None)

    def normal_equations(self, jac=True):
        """(loss, J^T J, J^T r) summed over all configurations (all ranks)."""
        loss = 0.0
        p = len(self.parameters)
        JtJ = np.zeros((p, p)) if jac else None
        Jtr = np.zeros(p) if jac else None
        for it in self.items:
            r, J = self._rows(it, jac)
            loss += float(r @ r)
            if jac:
                JtJ += J.T @ J
                Jtr += J.T @ r
        loss = self.comm.allreduce(loss)
        if jac:
            JtJ = self.comm.allreduce(JtJ)
            Jtr = self.comm.allreduce(Jtr)
        return loss, JtJ, Jtr


def levenberg_marquardt(problem: LMProblem, max_iter=60, lam=1e-3, tol=1e-6, progress=None,
                        time_limit_s=None) -> dict:
    """Minimise ``problem``'s sum of squares (parameters left at the best point found).

    Stops after ``max_iter`` iterations, when the loss falls by less than ``tol`` (relative)
    in an iteration, when no damping makes a step downhill, or after ``time_limit_s``.
    ``progress(iteration, loss, damping)`` is called after every iteration.

    Returns
    -------
    dict
        ``iterations``, ``loss_start``, ``loss_end``, ``history`` (loss per iteration),
        ``rejected_steps``, ``lambda_end``, ``seconds``.
    """
    t0 = time.time()
    x = problem.parameters
    loss, JtJ, Jtr = problem.normal_equations()
    history = [loss]
    n_rejected = 0
    for it in range(max_iter):
        d = np.diag(JtJ).copy()
        d[d <= 0] = d[d > 0].mean() if np.any(d > 0) else 1.0
        accepted = False
        for _ in range(12):
            A = JtJ + lam * np.diag(d) + 1e-12 * d.mean() * np.eye(len(d))
            try:
                step = -np.linalg.solve(A, Jtr)
            except np.linalg.LinAlgError:
                step = -np.linalg.lstsq(A, Jtr, rcond=None)[0]
            step = problem.comm.bcast(step, root=0)
            problem.set_parameters(x + step)
            new_loss, nJtJ, nJtr = problem.normal_equations()
            predicted = -(2.0 * step @ Jtr + step @ JtJ @ step)
            if np.isfinite(new_loss) and new_loss < loss:
                rho = (loss - new_loss) / predicted if predicted > 0 else 0.0
                x, JtJ, Jtr = x + step, nJtJ, nJtr
                rel = (loss - new_loss) / loss
                loss = new_loss
                # Nielsen's update of the damping from the gain ratio
                lam = max(lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 1e-9)
                accepted = True
                break
            n_rejected += 1
            lam *= 4.0
        history.append(loss)
        if progress is not None:
            progress(it, loss, lam)
        if not accepted:
            problem.set_parameters(x)
            break
        if rel < tol or (time_limit_s is not None and time.time() - t0 > time_limit_s):
            break
    problem.set_parameters(x)
    return {"iterations": len(history) - 1, "loss_start": history[0], "loss_end": history[-1],
            "history": history, "rejected_steps": n_rejected, "lambda_end": lam,
            "seconds": time.time() - t0}
