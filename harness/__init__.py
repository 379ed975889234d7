"""The engine's side of the provider protocol, for tests and benchmarks: drive the provider host
(the project's, `python -m provider.host.dynamic_host`, or the SDK's own, `python -m
pulumi.dynamic`) over gRPC as the Pulumi engine does. Not a product module: nothing under
`provider/` imports it."""

from .provider_host import (
    PROJECT_HOST,
    SDK_HOST,
    CheckOutcome,
    DiffOutcome,
    ProviderHost,
    ProviderHostError,
    ReadOutcome,
    from_struct,
    to_struct,
)

__all__ = [
    "PROJECT_HOST",
    "SDK_HOST",
    "CheckOutcome",
    "DiffOutcome",
    "ProviderHost",
    "ProviderHostError",
    "ReadOutcome",
    "from_struct",
    "to_struct",
]
