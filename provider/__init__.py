"""useapi.net PixVerse accounts as Pulumi resources.

`PixVerseAccount` is what a program declares; `PixVerseAccountProvider` is what the provider
host (`python -m pulumi.dynamic`, run in the project directory) loads by reference from
here to create, update, read and delete the accounts.
"""

from .account import PixVerseAccount
from .account_provider import PixVerseAccountProvider

__all__ = ["PixVerseAccount", "PixVerseAccountProvider"]
