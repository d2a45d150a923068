"""Lattice dynamics from MD: effective force constants, phonons and Wigner thermal conductivity.

The chain (each step callable on its own):

1. :mod:`mdargy.lattice.snapshots` -- uncorrelated frames of an mdargy EMD run (or any
   trajectory) mapped onto an ideal reference supercell, with a diffusion check (MSD);
2. :mod:`mdargy.lattice.forces` -- forces on those frames recomputed in LAMMPS with the run's
   potential (any :class:`~mdargy.potentials.spec.PotentialSpec`: MTP plugin, LJ, native styles);
3. :mod:`mdargy.lattice.fcfit` -- temperature-dependent effective force constants of orders 2, 3
   (and 4) fitted with hiPhive (Eriksson, Fransson & Erhart, *Adv. Theory Simul.* 2, 1800184
   (2019)), the TDEP idea of Hellman, Abrikosov & Simak, *PRB* 84, 180301 (2011); written as
   phonopy/phono3py ``fc2.hdf5``/``fc3.hdf5``;
4. :mod:`mdargy.lattice.phonons` -- harmonic phonons with phonopy (Togo, *J. Phys. Soc. Jpn.* 92,
   012001 (2023)): dispersion, total and element-projected DOS, group velocities, imaginary modes;
5. :mod:`mdargy.lattice.wigner` -- the Wigner conductivity kappa = kappa_p + kappa_c
   (Simoncelli, Marzari & Mauri, *Nat. Phys.* 15, 809 (2019)) with phono3py.

:mod:`mdargy.lattice.pipeline` strings them together for one EMD run folder.
Units: Å, eV, THz, W/m/K, K.
"""
