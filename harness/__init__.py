"""The engine's side of the provider protocol, for tests and benchmarks: drive the SDK's own
provider host (`python -m pulumi.dynamic`) over gRPC as the Pulumi engine does. Not a product
module: nothing under `provider/` imports it."""

from .provider_host import (
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
