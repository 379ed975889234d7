"""`PixVerseAccount`: the resource class a Pulumi program declares, one per account.

No `from __future__ import annotations` here, unlike the rest of the package: the SDK reads a
resource class's annotations (`get_type_hints`) on every registration, uncached, and string
annotations make it compile and evaluate each of them every time: 0.27 ms per account instead
of 0.08 ms, measured (bench/README.md, "Where the time goes").
"""

from typing import Any

import pulumi
import pulumi.dynamic

from ..host.account_provider import (
    EMAIL,
    JWT,
    MAX_JOBS,
    PASSWORD,
    SECRET_PROPS,
    TOKEN_PROP,
    PixVerseAccountProvider,
)

# One shared instance: every resource pickles to the same `__provider` string, so the host
# unpickles and configures it once and all accounts share one HTTP session.
_PROVIDER = PixVerseAccountProvider()


def _secret(value: pulumi.Input[str] | None) -> pulumi.Output[Any] | None:
    """Plain strings are accepted and made secret; a missing optional token stays None."""
    if value is None:
        return None
    return pulumi.Output.secret(value)


class PixVerseAccount(pulumi.dynamic.Resource, module="pixverse", name="PixVerseAccount"):
    """A useapi.net PixVerse account configuration (id: the email).

    Changing `email` replaces the account (the old configuration is deleted first); changing
    `password`, `max_jobs` or `token` updates it in place. The password and token are always
    secrets in state, whether or not the caller passed them as secrets.
    """

    email: pulumi.Output[str]
    password: pulumi.Output[str]
    maxJobs: pulumi.Output[int]
    token: pulumi.Output[str | None]
    jwt: pulumi.Output[dict[str, Any]]
    """AccountId, ExpireTime, ExpireTimeUTC and Username of the PixVerse session."""

    def __init__(
        self,
        resource_name: str,
        *,
        email: pulumi.Input[str],
        password: pulumi.Input[str],
        max_jobs: pulumi.Input[int],
        token: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            EMAIL: email,
            PASSWORD: _secret(password),
            MAX_JOBS: max_jobs,
            TOKEN_PROP: _secret(token),
            JWT: None,
        }
        # The engine marks an output secret when the same-named input was; this makes sure of it
        # for the outputs even if a future change routed them differently.
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_PROPS))
        merged = secret_opts if opts is None else pulumi.ResourceOptions.merge(opts, secret_opts)
        super().__init__(_PROVIDER, resource_name, props, merged)

    @property
    def max_jobs(self) -> pulumi.Output[int]:
        return self.maxJobs

    @property
    def username(self) -> pulumi.Output[str]:
        """The PixVerse username useapi.net signed in as: `jwt["Username"]`."""
        return self.jwt.apply(lambda jwt: str((jwt or {}).get("Username", "")))

    @property
    def expire_time_utc(self) -> pulumi.Output[str]:
        """When the PixVerse session expires: `jwt["ExpireTimeUTC"]` (ISO-8601)."""
        return self.jwt.apply(lambda jwt: str((jwt or {}).get("ExpireTimeUTC", "")))
