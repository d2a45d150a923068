"""mdargy: molecular dynamics of thermal and ionic transport in complex crystals."""

__version__ = "0.1.0"
