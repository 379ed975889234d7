"""Secrets through the real engine: after `up`, `preview` and `refresh`, no password, API token
or session token is in the stack file (only `secure:` values), in `pulumi stack export`, in any
file the backend wrote, or in anything the CLI printed; the outputs are the contract's."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.support.cli_support import PASSWORDS_KEY, TOKENS_KEY, CliProject
from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.cli

OPS, RENDER = "ops@example.com", "render@example.com"


def password(email: str) -> str:
    return f"{PASSWORD_SENTINEL}-{email.split('@')[0]}"


@pytest.mark.timeout(240)
def test_secrets_stay_encrypted_in_the_stack_file_state_backend_and_output(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5}, {OPS: password(OPS), RENDER: password(RENDER)})
    project.set_secret(TOKENS_KEY, RENDER, SESSION_TOKEN_SENTINEL)
    project.up()
    project.preview()
    project.refresh()

    stack_file = yaml.safe_load(project.stack_file.read_text())["config"]
    assert set(stack_file["useapi:token"]) == {"secure"}
    for email in (OPS, RENDER):
        assert set(stack_file[PASSWORDS_KEY][email]) == {"secure"}
    assert set(stack_file[TOKENS_KEY][RENDER]) == {"secure"}

    exported = project.run("stack", "export").stdout
    resources = json.loads(exported)["deployment"]["resources"]
    accounts = [r for r in resources if r["urn"].endswith(("::" + OPS, "::" + RENDER))]
    assert len(accounts) == 2
    for resource in accounts:
        for props in (resource["inputs"], resource["outputs"]):
            assert "ciphertext" in props["password"]
            assert len(props["__provider"]) < 200  # a reference to the class, nothing captured
    everything = "\n".join([project.stack_file.read_text(), exported, project.backend_text()])
    everything += "\n".join(project.transcript)
    for sentinel in (PASSWORD_SENTINEL, TOKEN_SENTINEL, SESSION_TOKEN_SENTINEL):
        assert sentinel not in everything

    outputs = project.outputs()
    assert set(outputs) == {"accounts", "totalMaxJobs"}
    assert outputs["totalMaxJobs"] == 8
    assert set(outputs["accounts"]) == {OPS, RENDER}
    for email, summary in outputs["accounts"].items():
        assert set(summary) == {"Username", "ExpireTimeUTC", "maxJobs"}
        assert summary["Username"] == email.split("@")[0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", summary["ExpireTimeUTC"])
    assert outputs["accounts"][OPS]["maxJobs"] == 3
