"""The life cycle of an append-only output file: flush, fsync on close, context manager.

Shared by the trajectory writers (:mod:`mdargy.io.binary`, :mod:`mdargy.io.netcdf`), which keep
their open file in ``self._fh`` and its name in ``self.path``.
"""

from __future__ import annotations

import os

from mdargy.errors import InputError


class AppendFile:
    """Mixin: ``flush``, ``close`` (flush + fsync), ``with`` support and a closed-file check."""

    _fh = None
    path = None

    def flush(self, fsync: bool = False) -> None:
        """Push written frames to the operating system (and to disk with ``fsync``)."""
        self._check_open()
        self._fh.flush()
        if fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush to disk and close; further appends raise."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def _check_open(self):
        if self._fh is None:
            raise InputError("the trajectory writer is closed", self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):  # pragma: no cover - best effort
        try:
            if self._fh is not None:
                self._fh.close()
        except Exception:
            pass
