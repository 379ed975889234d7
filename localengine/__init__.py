"""The engine's side of the provider protocol, for running and testing without the Pulumi CLI."""

from .host import (
    CheckOutcome,
    DiffOutcome,
    ProviderHost,
    ProviderHostError,
    ReadOutcome,
    from_struct,
    to_struct,
)

__all__ = [
    "CheckOutcome",
    "DiffOutcome",
    "ProviderHost",
    "ProviderHostError",
    "ReadOutcome",
    "from_struct",
    "to_struct",
]
