"""The stack config keys the code reads, found in the code itself (not in a list kept here).

Read from the syntax tree of the program (`__main__.py`) and of `provider/`:
- a `pulumi.Config()` method called with a literal name (`config.get("jwtWarnDays")`): the
  project's key `pixverse-accounts:jwtWarnDays`;
- a provider setting, `Setting("useapi:timeout", "USEAPI_TIMEOUT")`: its key and its variable;
- a string that is a whole key, literal (`"useapi:token"`) or built from the project's name
  (`f"{PROJECT}:minCredits"`), as the tools and the inventory name the keys they read.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.helpers import PROJECT_ROOT

PROJECT = "pixverse-accounts"
NAMESPACES = ("useapi", PROJECT)
KEY = re.compile(r"(?<![\w.:/-])(?:useapi|pixverse-accounts):[A-Za-z]\w*")
ENV = re.compile(r"(?<![\w$])USEAPI_[A-Z][A-Z0-9_]*")
_CONFIG_GETTERS = re.compile(r"(?:get|require)(?:_secret)?(?:_object|_bool|_int|_float)?")


def production_files() -> list[Path]:
    return [PROJECT_ROOT / "__main__.py", *sorted((PROJECT_ROOT / "provider").rglob("*.py"))]


def _config_names(tree: ast.AST) -> set[str]:
    """Names bound to `pulumi.Config(...)` / `Config(...)` (the project's own namespace)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "Config" and not node.value.args:
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _literal(node: ast.AST) -> str | None:
    """A string literal, or an f-string of `{PROJECT}` and literal text, as its value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif (
                isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Name)
                and value.value.id == "PROJECT"
            ):
                parts.append(PROJECT)
            else:
                return None
        return "".join(parts)
    return None


def read_in(path: Path) -> tuple[set[str], set[str]]:
    """The config keys and the USEAPI_* variables one module reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    configs = _config_names(tree)
    keys: set[str] = set()
    env: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in configs
                and _CONFIG_GETTERS.fullmatch(func.attr)
                and node.args
                and (name := _literal(node.args[0])) is not None
            ):
                keys.add(name if ":" in name else f"{PROJECT}:{name}")
            if getattr(func, "id", None) == "Setting" and len(node.args) == 2:
                key, variable = (_literal(arg) for arg in node.args)
                keys.update({key} if key else set())
                env.update({variable} if variable else set())
        text = _literal(node)
        if text is not None and KEY.fullmatch(text):
            keys.add(text)
    return keys, env


def keys_the_code_reads() -> tuple[set[str], set[str]]:
    """Every config key and every USEAPI_* variable the program, provider and tools read."""
    keys: set[str] = set()
    env: set[str] = set()
    for path in production_files():
        found_keys, found_env = read_in(path)
        keys |= found_keys
        env |= found_env
    return keys, env
