"""One error family for the booth; each also subclasses the builtin it resembles."""


class KioskError(Exception):
    """Base of every error the booth raises on purpose."""


class ConfigError(KioskError, ValueError):
    """A config or clip-set file is invalid; `problems` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ClipSetError(ConfigError):
    """A clip-set folder or its clipset.yaml is invalid."""


class AudioError(KioskError, OSError):
    """The audio device could not be opened or failed while playing."""


class DecodeError(KioskError, ValueError):
    """An audio file is unreadable, corrupt, empty, unsupported or too long."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class LiveError(KioskError, OSError):
    """baresip could not be started or its control connection broke."""
