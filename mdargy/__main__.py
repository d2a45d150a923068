"""``python -m mdargy`` runs the command-line interface."""

from mdargy.cli import main

raise SystemExit(main())
