"""Domain errors. Library code raises these; only the CLI boundary turns them into exit codes."""

from __future__ import annotations


class NspgwError(Exception):
    """Base of every error nspgw reports to a person. `exit_code` is the documented CLI exit status."""

    exit_code = 1


class UsageError(NspgwError):
    """Bad input from the operator or technician (unknown recipient, empty text, bad flag value)."""

    exit_code = 2


class ConfigError(NspgwError):
    """Missing, unreadable or invalid configuration or topology file."""

    exit_code = 3


class StoreError(NspgwError):
    """The SQLite store is corrupt, of an unknown version, or cannot be written."""

    exit_code = 4


class DaemonNotRunning(NspgwError):
    """A command needed the running daemon and found none."""

    exit_code = 5


class RadioError(NspgwError):
    """The radio is absent, unreachable or provisioned differently from its profile."""

    exit_code = 6


class SecurityError(NspgwError):
    """Key files with unsafe permissions, bad roster signature, unknown or revoked box."""

    exit_code = 7


class DecodeError(NspgwError):
    """Bytes that are not a valid nspgw frame. The one error the wire decoder raises for bad input."""

    exit_code = 8


class AuthError(NspgwError):
    """A frame that decoded but failed authentication, replay or roster checks."""

    exit_code = 8


class JournalError(NspgwError):
    """A journal (or an exported one) whose chain or signatures do not hold: it has been altered."""

    exit_code = 9


class SimulationError(NspgwError):
    """A drill (`nspgw sim run`) stopped on an internal error: which box, at what scenario time, in what state.
    A defect in nspgw, never the scenario's fault; the CLI prints it as one line."""

    exit_code = 10

    def __init__(self, t_s: float, box: int | None, state: str, cause: str) -> None:
        super().__init__(f"t={t_s:.1f} s, box {box if box is not None else '-'}: {cause}; {state}")
        self.t_s, self.box, self.state, self.cause = t_s, box, state, cause
