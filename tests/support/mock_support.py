"""Pulumi's own mocks, set up so tests can see what the engine would receive."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

JWT = {
    "AccountId": 66778899,
    "ExpireTime": 1767225194,
    "ExpireTimeUTC": "2026-01-01T00:33:14.000Z",
    "Username": "pixuser",
}


class EchoMocks(pulumi.runtime.Mocks):
    """Answers as a successful create would: the inputs back, plus the session block."""

    def __init__(self, jwt: dict[str, Any] | None = None) -> None:
        self.jwt = JWT if jwt is None else jwt

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        return args.inputs["email"], {**args.inputs, "jwt": self.jwt}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """Keeps each RegisterResource request as the engine would receive it."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request: Any) -> Any:
        self.requests.append(request)
        return super().RegisterResource(request)


def install_recording_mocks() -> RecordingMonitor:
    """Fresh mocks for one test (set_mocks replaces the runtime's settings wholesale)."""
    mocks = EchoMocks()
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="pixverse-accounts", stack="test", preview=False, monitor=recording
    )
    return recording
