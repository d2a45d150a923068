"""Exception types of mdargy.

Every error a user can cause (a bad file, a missing LAMMPS style, a run that blows up) is raised
as one of these, with the offending file and the problem in the message. The CLI turns them into
one line on stderr and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations


class MdargyError(Exception):
    """Base class of all errors raised deliberately by mdargy."""

    exit_code = 1


class InputError(MdargyError, ValueError):
    """Malformed or inconsistent input: a file, a configuration value, an argument.

    The message names the file (when there is one) and the problem.
    """

    exit_code = 2

    def __init__(self, message: str, path: object | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class LammpsError(MdargyError, RuntimeError):
    """LAMMPS refused a command or failed during a run."""


class MissingCapabilityError(LammpsError):
    """The running LAMMPS lacks a style or package that the job needs."""

    exit_code = 3


class SimulationError(MdargyError, RuntimeError):
    """A run became unphysical: lost atoms, NaN energies, temperature runaway."""

    exit_code = 4


class AlreadyDoneError(MdargyError):
    """A finished result exists and would be overwritten."""

    exit_code = 0
