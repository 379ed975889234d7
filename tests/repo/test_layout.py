"""The layout says where code runs, and the imports keep to it.

- `provider/host/` is what the provider host loads; it imports nothing else of the project.
- `provider/program/` is what the Pulumi program uses; it may use the host's code (the
  resource names its provider), never a tool.
- `provider/tools/` and the commands beside `provider/__init__.py` may use both.
- `provider/` imports nothing from the project's other top-level folders (the emulator, the
  demo, the test harness, the benchmark).
And, run as the host runs it, unpickling `__provider` and using it loads no command-line tool,
no program module and no YAML editor.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from provider import LEGACY_PROVIDER_MODULE
from tests.support.helpers import PROJECT_ROOT

pytestmark = pytest.mark.timeout(60)
PROVIDER = PROJECT_ROOT / "provider"
OTHER_TOP_LEVEL = ("demo", "useapi_emulator", "harness", "tests", "bench", "localengine")
# Layer → the provider layers its modules may import.
ALLOWED = {
    "host": {"host"},
    "program": {"host", "program"},
    "tools": {"host", "program", "tools"},
    "commands": {"host", "program", "tools", "commands"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved (TYPE_CHECKING ones included:
    a type-only import still says which layer a module leans on)."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> str | None:
    """`provider.host.x` → host; `provider.adopt` → commands; `provider` itself → None."""
    parts = module.split(".")
    if parts[0] != "provider" or len(parts) == 1:
        return None
    return parts[1] if parts[1] in ("host", "program", "tools") else "commands"


def provider_files() -> list[Path]:
    return sorted(PROVIDER.rglob("*.py"))


def test_the_provider_package_has_the_layers_the_docs_name() -> None:
    subpackages = sorted(p.name for p in PROVIDER.iterdir() if (p / "__init__.py").exists())
    assert subpackages == ["host", "program", "tools"]
    assert (PROVIDER / "host" / "useapi" / "__init__.py").exists()
    commands = sorted(p.stem for p in PROVIDER.glob("*.py") if p.name != "__init__.py")
    assert {"adopt", "drift", "report"} <= set(commands)


@pytest.mark.parametrize("path", provider_files(), ids=lambda p: str(p.relative_to(PROVIDER)))
def test_no_module_imports_from_a_layer_above_it(path: Path) -> None:
    layer = layer_of(module_name(path))
    imported = imports_of(path)
    outside = sorted(m for m in imported if m.split(".")[0] in OTHER_TOP_LEVEL)
    assert outside == [], f"provider/ imports the project's other folders: {outside}"
    if layer is None:
        return
    above = sorted(
        m
        for m in imported
        if (target := layer_of(m)) is not None
        and target not in ALLOWED[layer]
        and m not in ("provider.PixVerseAccount", "provider.PixVerseAccountProvider")
    )
    assert above == [], f"{layer} imports from a layer above it: {above}"


HOST_RUN = """
import base64, json, sys
import dill
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

# What a resource carries in `__provider`, made in another process (the program's).
pickled = sys.argv[1]
provider = dill.loads(base64.b64decode(pickled))
provider.configure(ConfigureRequest(Config({"useapi:token": "t"}, "pixverse-accounts")))
inputs = {"email": "ops@example.com", "password": "pw", "maxJobs": 3.0}
checked = provider.check({}, inputs)
provider.diff("ops@example.com", checked.inputs, checked.inputs)
provider.client()  # the HTTP client, as the first create or read loads it
watched = ("provider", "ruamel", "yaml", "boto3", "botocore")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in watched)))
"""


def test_the_provider_host_loads_only_the_hosts_code() -> None:
    pickler = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pulumi.dynamic.dynamic import serialize_provider; import provider; "
            "print(serialize_provider(provider.PixVerseAccountProvider()))",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    host = subprocess.run(
        [sys.executable, "-c", HOST_RUN, pickler.stdout.strip()],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert host.returncode == 0, host.stderr
    loaded = json.loads(host.stdout)
    assert "provider.host.account_provider" in loaded and "provider.host.useapi.client" in loaded
    strays = [
        m
        for m in loaded
        if m != LEGACY_PROVIDER_MODULE  # an alias of the package itself, for old states
        and (m.split(".")[0] != "provider" or layer_of(m) not in (None, "host"))
    ]
    # yaml may come with the SDK itself; ruamel (the stack-file editor), boto3 (the recovery's
    # S3 client) and our tools may not.
    assert [m for m in strays if not m.startswith("yaml")] == []
