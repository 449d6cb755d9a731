"""The exception tree of Pulse: every exception the project raises on purpose is here.

::

    PulseError
     ├── ConfigError            settings that cannot work (bad port, missing data file, no model)
     ├── InvalidEventError      an event breaks the contract; carries ``code`` and ``message``
     │    └── BodyError         a ``POST /events`` body is unusable as a whole
     ├── ServiceError           Kafka or Redis did not answer as needed
     ├── HaltError              a permanent failure the worker cannot work around: it stops
     │                          processing, keeps its offsets, and says why in /health
     ├── EncoderClosedError     the encoder was closed before a text was encoded
     └── EncoderInputError      a text the encoder does not take (also a ``ValueError``)
"""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error Pulse raises on purpose."""


class ConfigError(PulseError):
    """A setting or a path given to Pulse cannot work."""


class ServiceError(PulseError):
    """Kafka or Redis is unreachable or refused a request."""


class HaltError(PulseError):
    """A permanent failure (Redis out of memory, a message Kafka will never take) that no retry
    and no dead letter can get past: the worker stops processing and reports the reason."""


class InvalidEventError(PulseError):
    """An event does not follow the contract.

    ``code`` is a stable machine-readable reason (see ``core.validation.ErrorCode``);
    ``message`` says what is wrong and where, for a person.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BodyError(InvalidEventError):
    """The request body as a whole is unusable (not JSON, empty, too many events)."""


class EncoderClosedError(PulseError):
    """The batcher was closed before this text was encoded."""


class EncoderInputError(PulseError, ValueError):
    """A text the encoder does not take (not a string, or empty)."""
