"""Compiled LAMMPS plugins built by mdargy's installer (``*plugin.so``) live in this folder."""
