"""A local useapi.net PixVerse accounts API for tests, benchmarks and the demo stack."""

from .server import MALFORMED, Fault, RawAnswer, RecordedRequest, UseapiEmulator, Variants

__all__ = ["MALFORMED", "Fault", "RawAnswer", "RecordedRequest", "UseapiEmulator", "Variants"]
