"""The commands the docs tell a reader to type, checked against what would really run them.

- `make <target> [VAR=value]`: `make --dry-run` of the real Makefile must know the target, every
  variable must be one the Makefile uses, and each `python -m` line the recipe would run goes
  through the checks below.
- `python -m <module> <args>`: a module of this project is run as `python -m` runs it, with its
  own argparse parser parsing the documented arguments and the module stopped right there, so a
  renamed flag, a dropped subcommand or a bad value fails; a module of the provider host
  (`provider.host.dynamic_host`, which the engine starts and a person never types) must exist
  and run as a program, but is not run here (it would serve gRPC in the test's process); any
  other module (pytest, the SDK's `pulumi.dynamic`) must be installed. Flags named in a comment
  after the command (`# --n, --sweep, ...`) must be options of that parser.

And the other way round: every target `make help` announces, and every option of a command's
parser, must be named somewhere in the docs (`help_targets`, `parser_options`), so that a new
target or flag cannot ship without its docs.

Each check returns the problems it found, one line each, naming the command, so that a test
can show one failing on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import re
import runpy
import shlex
import subprocess
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from tests.support.helpers import PROJECT_ROOT

MAKEFILE = PROJECT_ROOT / "Makefile"
MAKE_TIMEOUT = 30
# `make` at a command's start (not `make` inside a word or a path), then its targets and
# VAR=value assignments. Placeholders (`STACK=<name>`, `[WRITE=1]`) are turned into values first.
_MAKE = re.compile(r"(?:^|[\s;&|(])make((?:[ \t]+(?:[A-Z][A-Z0-9_]*=\S*|[a-z][\w.-]*))+)")
_PYTHON_M = re.compile(r"(?:^|[\s;&|(`$])(?:[\w./-]*/)?python3?(?:\.\d+)?\s+-m\s+(\S+)([^|;&\n]*)")
_PLACEHOLDER = re.compile(r"<[^<>\s]*>|…|\.\.\.")
_FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")
_COMMENT = re.compile(r"(?:^|\s)#(?:\s.*|$)")
# Under --dry-run make still runs a recipe line that calls $(MAKE) (`engine` builds the CLI when
# it is missing): `-o engine` takes that target as up to date, so the check runs nothing.
_DRY_RUN = ("make", "--dry-run", "--no-print-directory", "-o", "engine")


@dataclass
class Commands:
    """The `make` and `python -m` commands found in some code, each with where it was found."""

    make: dict[str, list[str]] = field(default_factory=dict)
    python: dict[str, list[str]] = field(default_factory=dict)


def _fill(text: str) -> str:
    """Docs placeholders as values: `<name>` and `…` become `x`, optional `[...]` parts stay."""
    return _PLACEHOLDER.sub("x", text).replace("[", "").replace("]", "")


def find_commands(code: Iterable[tuple[str, str]]) -> Commands:
    """`code`: (where, text) pairs, a text being one inline code span or one fenced line."""
    found = Commands()
    for where, text in code:
        for match in _MAKE.finditer(_COMMENT.sub("", _fill(text))):
            found.make.setdefault(" ".join(match.group(1).split()), []).append(where)
        for match in _PYTHON_M.finditer(text):
            command = f"{match.group(1)}{match.group(2)}".rstrip().rstrip("`")
            found.python.setdefault(command, []).append(where)
    return found


def make_problems(invocation: str) -> list[str]:
    """What is wrong with `make <invocation>` as the docs write it (after `_fill`)."""
    tokens = invocation.split()
    makefile = MAKEFILE.read_text(encoding="utf-8")
    problems = [
        f"`make {invocation}`: the Makefile never uses {name}"
        for name in (token.split("=", 1)[0] for token in tokens if "=" in token)
        if not re.search(rf"\$[({{]{re.escape(name)}[)}}]", makefile)
    ]
    # A file of that name would do for make (`make tests`: "Nothing to be done"): a target the
    # docs name must be one of the Makefile's rules.
    problems += [
        f"`make {invocation}`: the Makefile has no rule `{target}`"
        for target in (token for token in tokens if "=" not in token)
        if target not in makefile_targets(makefile)
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        [*_DRY_RUN, *tokens],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return [*problems, f"`make {invocation}`: {done.stderr.strip() or done.stdout.strip()}"]
    for line in done.stdout.splitlines():
        for match in _PYTHON_M.finditer(line):
            module, rest = match.group(1), match.group(2)
            try:
                args = shlex.split(rest)
            except ValueError:
                args = rest.split()
            problems += [
                f"`make {invocation}` runs `{line.strip()}`: {problem}"
                for problem in module_problems(module, args)
            ]
    return problems


def help_targets() -> list[str]:
    """The targets `make help` announces to a reader (`make up        deploy the demo ...`)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT,
        check=True,
    )
    return re.findall(r"^make ([a-z][\w.-]*)", done.stdout, re.MULTILINE)


def unnamed(options: Iterable[str], text: str) -> list[str]:
    """The options (`--clock-skew-minutes`) that `text` never names as a whole word."""
    return [
        option
        for option in options
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text)
    ]


def targets_in(invocations: Iterable[str]) -> set[str]:
    """The targets of `make` invocations (`cli actionlint versitygw`, `recover STACK=x`)."""
    return {token for line in invocations for token in line.split() if "=" not in token}


def makefile_targets(makefile: str) -> set[str]:
    """The targets the Makefile's rules name (`up preview refresh destroy drift: engine ...`)."""
    heads = re.findall(r"^([^\s:=#$][^:=#]*?)\s*::?(?!=)", makefile, re.MULTILINE)
    return {name for head in heads for name in head.split()}


def python_problems(command: str) -> list[str]:
    """What is wrong with `python -m <command>` as the docs write it."""
    comment_at = _COMMENT.search(command)
    text = command[: comment_at.start()] if comment_at else command
    comment = command[comment_at.start() :] if comment_at else ""
    filled = _fill(text)
    try:
        module, *args = shlex.split(filled)
    except ValueError:
        module, *args = filled.split()
    return [
        f"`python -m {command}`: {problem}"
        for problem in module_problems(module, args, _FLAG.findall(comment))
    ]


def _is_ours(module: str) -> bool:
    top = PROJECT_ROOT / module.split(".")[0]
    return (top / "__init__.py").exists() or top.with_suffix(".py").exists()


# What the engine starts through the plugin script (`provider/host/plugin/`): a server, no parser.
ENGINE_STARTED = "provider.host."


def _engine_started_problems(module: str, args: list[str]) -> list[str]:
    """The docs name the provider host's process (`ps` shows it); its one argument is the
    engine's address, which only the engine passes."""
    path = PROJECT_ROOT.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return [f"no module {module} in the project ({path.relative_to(PROJECT_ROOT)})"]
    if not re.search(r"^if __name__ == .__main__.:", path.read_text(encoding="utf-8"), re.M):
        return [f'{module} does not run as a program (no `if __name__ == "__main__"`)']
    return [f"the engine starts {module}; it takes no arguments from a reader"] if args else []


class _Parsed(Exception):
    """Not an error: how a command's run stops once its arguments are parsed."""


def module_problems(module: str, args: list[str], flags: Iterable[str] = ()) -> list[str]:
    """Run `python -m module args` up to its argument parsing, in this process."""
    if not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", module):
        return [f"`{module}` is not a module name"]
    if not _is_ours(module):
        try:
            spec = importlib.util.find_spec(module)
        except ImportError:
            spec = None
        return [] if spec is not None else [f"no module named {module} is installed"]
    if module.startswith(ENGINE_STARTED):
        return _engine_started_problems(module, args)
    parsers, problems = _parse_only(module, args)
    if parsers and not problems:
        # Exactly as spelt: argparse would take `--writ` for `--write`, a reader should not.
        given = [arg.split("=", 1)[0] for arg in _before_separator(args) if arg.startswith("--")]
        known = set(parsers[0]._option_string_actions)
        problems += [
            f"{flag} is not an option of its parser"
            for flag in dict.fromkeys([*given, *flags])
            if flag not in known
        ]
    return problems


def parser_options(module: str) -> list[str]:
    """The long options of a command's own argparse parser (`--help` aside), as it spells them."""
    parsers, _ = _parse_only(module, [])
    assert parsers, f"python -m {module} parsed no arguments"
    return sorted(
        {
            option
            for option in parsers[0]._option_string_actions
            if option.startswith("--") and option != "--help"
        }
    )


def _parse_only(module: str, args: list[str]) -> tuple[list[argparse.ArgumentParser], list[str]]:
    """The parsers `python -m module args` built before its parsing stopped it, and what its
    parser refused (or that it never parsed)."""
    parsers: list[argparse.ArgumentParser] = []
    real_parse_args = argparse.ArgumentParser.parse_args

    def parse_and_stop(
        self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
    ) -> argparse.Namespace:
        parsers.append(self)
        real_parse_args(self, args, namespace)
        raise _Parsed

    err = io.StringIO()
    problems: list[str] = []
    with (
        mock.patch.object(argparse.ArgumentParser, "parse_args", parse_and_stop),
        mock.patch.object(sys, "argv", [module, *args]),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        try:
            runpy.run_module(module, run_name="__main__")
        except _Parsed:
            pass
        except SystemExit as exc:
            if exc.code not in (0, None):
                problems.append(f"its parser refuses {args}: {err.getvalue().strip()}")
        except ImportError as exc:
            problems.append(f"cannot be run: {exc}")
        else:
            problems.append("ran to its end without parsing arguments (not a command)")
    return parsers, problems


def _before_separator(args: list[str]) -> list[str]:
    """The arguments before a bare `--` (after it they are another program's: the demo hands
    them to the pulumi CLI)."""
    return args[: args.index("--")] if "--" in args else args
