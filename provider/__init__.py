"""useapi.net PixVerse accounts as Pulumi resources.

The package is laid out by where its code runs:

- `provider/host/`: what the provider host (the SDK's, run by `provider/host/dynamic_host.py`,
  started by the engine in the project directory) loads: `PixVerseAccountProvider`, its
  settings and validation rules, the account cache, and `host/useapi/`, the useapi.net client
  with its reader and status rules.
- `provider/program/`: what the Pulumi program (`__main__.py`) uses: the `PixVerseAccount`
  resource class, the inventory read from stack config, the session checks.
- `provider/adopt.py`, `drift.py`, `report.py`: the commands people and pipelines run
  (`python -m provider.<command>`), with their logic in `provider/tools/`.

The two public names below load lazily, so that the host, which only needs the provider, never
imports the program's resource class, and a command never imports Pulumi's resource machinery.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .host.account_provider import PixVerseAccountProvider
    from .program.account import PixVerseAccount

__all__ = ["PixVerseAccount", "PixVerseAccountProvider"]

# States written before the package was laid out by where code runs hold `__provider` pickled as
# `provider.account_provider.PixVerseAccountProvider`; the engine hands that pickle to the host
# on every refresh and destroy of such a stack. The name stays importable (as this package, which
# has the class), so those stacks keep working; new pickles name `provider.PixVerseAccountProvider`.
LEGACY_PROVIDER_MODULE = f"{__name__}.account_provider"
sys.modules.setdefault(LEGACY_PROVIDER_MODULE, sys.modules[__name__])


def __getattr__(name: str) -> Any:
    if name == "PixVerseAccountProvider":
        from .host.account_provider import PixVerseAccountProvider

        return PixVerseAccountProvider
    if name == "PixVerseAccount":
        from .program.account import PixVerseAccount

        return PixVerseAccount
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
