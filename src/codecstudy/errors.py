"""Errors a user can act on.

The CLI prints these as one line (no traceback), so their message must name the file or config key at fault.
"""


class CodecStudyError(Exception):
    """Base class for errors caused by the user's input rather than by a bug."""


class AudioReadError(CodecStudyError):
    """An audio file cannot be used: it is missing, corrupt, empty, truncated or of an unknown format."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(CodecStudyError):
    """A config file or override is invalid; the message names the key."""
