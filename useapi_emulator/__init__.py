"""A local useapi.net PixVerse accounts API for tests, benchmarks and the offline demo."""

from .server import Fault, RecordedRequest, UseapiEmulator

__all__ = ["Fault", "RecordedRequest", "UseapiEmulator"]
