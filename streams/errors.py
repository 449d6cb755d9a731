"""The exception tree of Pulse.

::

    PulseError
     ├── ConfigError          settings that cannot work (bad port, missing data file)
     ├── InvalidEventError    an event breaks the contract; carries ``code`` and ``message``
     └── ServiceError         Kafka or Redis did not answer as needed
"""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error Pulse raises on purpose."""


class ConfigError(PulseError):
    """A setting or a path given to Pulse cannot work."""


class ServiceError(PulseError):
    """Kafka or Redis is unreachable or refused a request."""


class InvalidEventError(PulseError):
    """An event does not follow the contract.

    ``code`` is a stable machine-readable reason (see ``streams.validation.ErrorCode``);
    ``message`` says what is wrong and where, for a person.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
