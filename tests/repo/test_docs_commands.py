"""Every `make` and `python -m` command the docs show runs as written: the target exists in the
Makefile, its variables are ones the Makefile uses, and the arguments pass the real argparse
parser of the module (for `make`, of the module its recipe runs)."""

from __future__ import annotations

import pytest

from tests.support.doc_commands import (
    Commands,
    find_commands,
    make_problems,
    python_problems,
)
from tests.support.markdown_docs import MarkdownDoc, doc_files

pytestmark = pytest.mark.timeout(60)


def documented() -> Commands:
    return find_commands(code for path in doc_files() for code in MarkdownDoc(path).code())


DOCUMENTED = documented()


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
