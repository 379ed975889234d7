"""Stack configuration as the Pulumi CLI would hand it to the program and the provider host.

Reads `Pulumi.yaml` (project name, `stackConfigDir`, config defaults) and the stack file, adds
the secret config given at run time, and produces what the engine produces: namespaced keys
(`pixverse-accounts:accounts`), string values (objects as JSON), and the list of secret keys.
Encrypted (`secure:`) values cannot be read without the CLI's secrets provider, so the offline
runner refuses them and says how to pass the value instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(ValueError):
    """The project or stack file is missing or holds something the offline runner cannot use."""


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    stack_config_dir: Path
    main: Path
    defaults: dict[str, Any] = field(default_factory=dict)

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    """Config with string values, and which keys are secret (never printed)."""

    values: dict[str, str]
    secret_keys: list[str]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise StackConfigError(f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise StackConfigError(f"{path} is not valid YAML: {exc}") from None


def load_project(directory: Path) -> Project:
    directory = directory.resolve()
    data = _read_yaml(directory / "Pulumi.yaml")
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise StackConfigError(f"{directory / 'Pulumi.yaml'} has no project name")
    name = data["name"]
    defaults: dict[str, Any] = {}
    for key, spec in (data.get("config") or {}).items():
        value = spec.get("default") if isinstance(spec, Mapping) else spec
        if value is not None:
            defaults[namespaced(name, str(key))] = value
    main = directory / str(data.get("main") or ".")
    return Project(
        name=name,
        directory=directory,
        stack_config_dir=directory / str(data.get("stackConfigDir") or "."),
        main=main / "__main__.py" if main.is_dir() else main,
        defaults=defaults,
    )


def namespaced(project: str, key: str) -> str:
    """`accounts` → `pixverse-accounts:accounts`; `useapi:token` stays as it is."""
    return key if ":" in key else f"{project}:{key}"


def _has_secure(value: Any) -> bool:
    if isinstance(value, Mapping):
        if "secure" in value and len(value) == 1:
            return True
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def as_config_string(value: Any) -> str:
    """How the CLI passes a config value to a program: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def load_stack_config(
    project: Project, stack: str, secret_config: Mapping[str, Any] | None = None
) -> StackConfig:
    """Defaults < stack file < secret config (whose keys are all marked secret)."""
    data = _read_yaml(project.stack_file(stack))
    if not isinstance(data, Mapping):
        raise StackConfigError(f"{project.stack_file(stack)} must be a map with a `config` key")
    values: dict[str, Any] = dict(project.defaults)
    secret_values = {
        namespaced(project.name, str(key)): value for key, value in (secret_config or {}).items()
    }
    for key, value in (data.get("config") or {}).items():
        full = namespaced(project.name, str(key))
        if _has_secure(value) and full not in secret_values:
            raise StackConfigError(
                f"`{full}` in {project.stack_file(stack).name} is encrypted for the Pulumi CLI; "
                "the offline runner cannot decrypt it: give it in the secret config file "
                "(--secret-config) instead"
            )
        values[full] = value
    values.update(secret_values)
    return StackConfig(
        values={key: as_config_string(value) for key, value in values.items()},
        secret_keys=sorted(secret_values),
    )
