"""The stack's outputs as `pulumi stack output --json` prints them: `accounts`
(email → {Username, ExpireTimeUTC, maxJobs}) and `totalMaxJobs`.

The report and the drift check read them from a file or stdin. A stack that was never
applied prints `{}`; a row can be `"[unknown]"` or `"[secret]"` (a preview, a masked value):
each is kept as it is, and the readers show it as unknown rather than guessing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNTS = "accounts"
TOTAL = "totalMaxJobs"


class OutputsError(ValueError):
    """The input is not `pulumi stack output --json` of this project."""


@dataclass(frozen=True)
class StackOutputs:
    accounts: dict[str, Any] = field(default_factory=dict)  # email → row (a dict, or a mark)
    total_max_jobs: int | None = None


def parse_outputs(data: Any) -> StackOutputs:
    if not isinstance(data, Mapping):
        raise OutputsError(
            "expected the JSON object that `pulumi stack output --json` prints, got "
            f"{type(data).__name__}"
        )
    accounts = data.get(ACCOUNTS) or {}
    if not isinstance(accounts, Mapping):
        raise OutputsError(f"`{ACCOUNTS}` should map email to account, got {accounts!r:.80}")
    total = data.get(TOTAL)
    return StackOutputs(
        accounts={str(email): row for email, row in accounts.items()},
        total_max_jobs=(
            int(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else None
        ),
    )


def read_outputs(source: str) -> StackOutputs:
    """From a file, or stdin when `source` is `-`."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise OutputsError(f"cannot read {source}: {exc.strerror or type(exc).__name__}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        where = "stdin" if source == "-" else source
        raise OutputsError(f"{where} is not JSON: pipe in `pulumi stack output --json`") from None
    return parse_outputs(data)
