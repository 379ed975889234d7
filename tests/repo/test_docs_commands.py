"""Every `make` and `python -m` command the docs show runs as written: the target exists in the
Makefile, its variables are ones the Makefile uses, and the arguments pass the real argparse
parser of the module (for `make`, of the module its recipe runs). And every target `make help`
announces, and every option of the commands a person runs on a stack, is in the docs."""

from __future__ import annotations

import pytest

from tests.support.doc_commands import (
    Commands,
    find_commands,
    help_targets,
    make_problems,
    parser_options,
    python_problems,
    targets_in,
    unnamed,
)
from tests.support.markdown_docs import MarkdownDoc, doc_files

pytestmark = pytest.mark.timeout(60)


def documented() -> Commands:
    return find_commands(code for path in doc_files() for code in MarkdownDoc(path).code())


DOCUMENTED = documented()
# The commands a person runs on a stack: each option is one an on-call reader may need.
STACK_COMMANDS = ("provider.adopt", "provider.drift", "provider.report", "provider.recover")


def docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in doc_files())


def test_the_docs_show_the_commands_people_type() -> None:
    """The scan itself: were it to find nothing, the checks below would pass on nothing."""
    assert {"up", "test", "recover STACK=prod"} <= set(DOCUMENTED.make)
    modules = {command.split()[0] for command in DOCUMENTED.python}
    assert {"provider.adopt", "provider.drift", "provider.report", "provider.recover"} <= modules


@pytest.mark.parametrize("invocation", sorted(DOCUMENTED.make))
def test_every_make_command_in_the_docs_runs_as_written(invocation: str) -> None:
    assert make_problems(invocation) == [], f"shown at {DOCUMENTED.make[invocation]}"


@pytest.mark.parametrize("command", sorted(DOCUMENTED.python))
def test_every_python_m_command_in_the_docs_parses_as_written(command: str) -> None:
    assert python_problems(command) == [], f"shown at {DOCUMENTED.python[command]}"


def test_every_target_make_help_announces_is_shown_in_the_docs() -> None:
    targets = help_targets()
    assert {"up", "test", "lock", "versitygw"} <= set(targets)
    assert sorted(set(targets) - targets_in(DOCUMENTED.make)) == []


@pytest.mark.parametrize("module", STACK_COMMANDS)
def test_every_option_of_a_stack_command_is_named_in_the_docs(module: str) -> None:
    options = parser_options(module)
    assert "--stack" in options
    assert unnamed(options, docs_text()) == []


def test_an_undocumented_target_or_option_is_caught() -> None:
    assert targets_in(["cli actionlint", "recover STACK=x FORCE=1"]) == {
        "cli",
        "actionlint",
        "recover",
    }
    assert "--clock-skew-minutes" in parser_options("provider.recover")
    assert "--help" not in parser_options("provider.recover")
    text = "run `make recover STACK=prod MAX_RUN=60` (`--max-run-minutes`); --clock-skew-minutesX"
    assert unnamed(["--max-run-minutes", "--clock-skew-minutes", "--max-run"], text) == [
        "--clock-skew-minutes",
        "--max-run",
    ]


def test_a_fake_target_variable_flag_or_module_is_caught() -> None:
    found = find_commands(
        [
            ("a", "make recover STACK=<name> [FORCE=1]"),
            ("b", "make up        # again: 4 unchanged, make sure"),
            ("c", "pulumi stack output --json | python -m provider.report --stack prod"),
            ("d", "venv/bin/python -m bench --help     # --engine-n, --no-such-option"),
        ]
    )
    assert sorted(found.make) == ["recover STACK=x FORCE=1", "up"]
    assert sorted(found.python) == [
        "bench --help     # --engine-n, --no-such-option",
        "provider.report --stack prod",
    ]
    assert make_problems("recover STACK=x FORCE=1") == []
    assert "No rule to make target" in " ".join(make_problems("no-such-target"))
    assert make_problems("tests") == ["`make tests`: the Makefile has no rule `tests`"]
    assert make_problems("adopt STACK=prod WRIT=1") == [
        "`make adopt STACK=prod WRIT=1`: the Makefile never uses WRIT"
    ]
    assert make_problems("bench BENCH_ARGS=--quick") == []
    refused = make_problems("bench BENCH_ARGS=--no-such-flag")
    assert len(refused) == 1 and "unrecognized arguments: --no-such-flag" in refused[0]
    assert python_problems("provider.report --stack prod") == []
    assert python_problems("provider.drift --stack prod --outputs outputs.json") == []
    assert (
        "unrecognized arguments: --format"
        in python_problems("provider.drift --stack prod --format outputs.json")[0]
    )
    assert "required: --stack" in python_problems("provider.drift")[0]
    assert python_problems("provider.adopt --stack prod --writ") == [
        "`python -m provider.adopt --stack prod --writ`: --writ is not an option of its parser"
    ]
    assert python_problems("demo preview -- --expect-no-changes") == []
    assert "invalid choice: 'upp'" in python_problems("demo upp")[0]
    assert python_problems("bench --help     # --engine-n, --no-such-option") == [
        "`python -m bench --help     # --engine-n, --no-such-option`: --no-such-option is not"
        " an option of its parser"
    ]
    assert "cannot be run" in python_problems("provider.no_such_command --stack prod")[0]
    assert python_problems("provider.host.dynamic_host") == []
    assert python_problems("provider.host.no_such_host") == [
        "`python -m provider.host.no_such_host`: no module provider.host.no_such_host in the"
        " project (provider/host/no_such_host.py)"
    ]
    assert python_problems("provider.host.drain") == [
        "`python -m provider.host.drain`: provider.host.drain does not run as a program"
        ' (no `if __name__ == "__main__"`)'
    ]
    assert python_problems("pytest -q") == []
    assert python_problems("no_such_tool_anywhere") == [
        "`python -m no_such_tool_anywhere`: no module named no_such_tool_anywhere is installed"
    ]
