"""A local useapi.net PixVerse accounts API for tests, benchmarks and the offline demo."""

from .server import MALFORMED, Fault, RecordedRequest, UseapiEmulator

__all__ = ["MALFORMED", "Fault", "RecordedRequest", "UseapiEmulator"]
