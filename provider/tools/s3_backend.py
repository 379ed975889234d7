"""An `s3://` backend URL read as the pulumi CLI reads it, and the few object calls the recovery
makes on it (read one object, delete it only if unchanged, create one only if absent).

The CLI opens `s3://bucket/prefix?params` with gocloud.dev's s3blob (AWS SDK for Go v2): the
parameters `region`, `endpoint`, `profile`, `use_path_style` (`s3ForcePathStyle`),
`disable_https` (`disableSSL`), `dualstack`, `fips`, `accelerate`, `anonymous`,
`request_checksum_calculation`, `response_checksum_validation`, `ssetype`, `kmskeyid`, and the
credentials of the AWS SDK's default chain (the environment's keys, `AWS_PROFILE` and the shared
files, web identity, SSO, the instance's role). boto3 reads the same chain. Any parameter that
is not in that list makes `S3Location.parse` refuse the URL: the recovery then does not guess at
another bucket or endpoint than the CLI's, and falls back to what it can do without removing a
single lock.

boto3 is imported here only, when an s3:// lock is to be removed: never by the provider host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# Parameters that change nothing for the calls made here (the SDK's choice; a client-side
# rate limiter for a handful of calls).
_IGNORED = {"awssdk", "rate_limiter_capacity"}
_TRUE = {"1", "t", "true", "yes", "on"}
_FALSE = {"0", "f", "false", "no", "off", ""}


class UnsupportedS3Url(ValueError):
    """The URL holds something this client cannot reproduce exactly as the CLI does."""


class S3Error(RuntimeError):
    """An S3 call failed for a reason other than the ones the caller asked about."""


@dataclass(frozen=True)
class S3Location:
    """One object of an s3:// backend and how to reach it."""

    bucket: str
    key: str
    region: str | None = None
    endpoint: str | None = None
    profile: str | None = None
    path_style: bool = False
    anonymous: bool = False
    client_config: Mapping[str, Any] = field(default_factory=dict)
    put_extra: Mapping[str, str] = field(default_factory=dict)  # server-side encryption

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/key?params` as the CLI prints a lock's URL."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise UnsupportedS3Url(f"not an s3:// URL with a bucket: {url}")
        if "@" in parts.netloc:
            raise UnsupportedS3Url("an s3:// URL with user information")
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        config: dict[str, Any] = {}
        s3: dict[str, Any] = {}
        put_extra: dict[str, str] = {}
        disable_https = _flag(params, "disable_https") or _flag(params, "disableSSL")
        endpoint = params.pop("endpoint", None) or None
        if endpoint is not None and "://" not in endpoint:
            endpoint = ("http://" if disable_https else "https://") + endpoint
        path_style = _flag(params, "use_path_style") or _flag(params, "s3ForcePathStyle")
        if path_style:
            s3["addressing_style"] = "path"
        if _flag(params, "accelerate"):
            s3["use_accelerate_endpoint"] = True
        if _flag(params, "dualstack"):
            config["use_dualstack_endpoint"] = True
        if _flag(params, "fips"):
            config["use_fips_endpoint"] = True
        anonymous = _flag(params, "anonymous")
        for name in ("request_checksum_calculation", "response_checksum_validation"):
            value = params.pop(name, None)
            if value is not None:
                if value not in ("when_supported", "when_required"):
                    raise UnsupportedS3Url(f"{name}={value}")
                config[name] = value
        if "ssetype" in params:
            put_extra["ServerSideEncryption"] = params.pop("ssetype")
        if "kmskeyid" in params:
            put_extra["SSEKMSKeyId"] = params.pop("kmskeyid")
        region = params.pop("region", None) or None
        profile = params.pop("profile", None) or None
        unknown = sorted(set(params) - _IGNORED)
        if unknown:
            raise UnsupportedS3Url(f"query parameter(s) {', '.join(unknown)}")
        if s3:
            config["s3"] = s3
        return cls(
            bucket=parts.netloc,
            key=unquote(parts.path).lstrip("/"),
            region=region,
            endpoint=endpoint,
            profile=profile,
            path_style=path_style,
            anonymous=anonymous,
            client_config=config,
            put_extra=put_extra,
        )


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.pop(name, None)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UnsupportedS3Url(f"{name}={value}")


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    etag: str


class S3Objects:
    """The calls the recovery makes, on one bucket, with the CLI's credentials chain."""

    def __init__(self, where: S3Location, environ: Mapping[str, str], timeout: float = 20) -> None:
        import boto3  # the tools' dependency only: never imported by the provider host
        from botocore.config import Config

        keys: dict[str, str] = {}
        if where.profile is None and environ.get("AWS_ACCESS_KEY_ID"):
            # The chain's first step, from the environment the CLI is given (which a caller may
            # set apart from this process's): the keys, and the session token that goes with
            # them. Otherwise boto3 walks the rest of the chain as the CLI's SDK does.
            keys = {
                "aws_access_key_id": environ["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY", ""),
            }
            if environ.get("AWS_SESSION_TOKEN"):
                keys["aws_session_token"] = environ["AWS_SESSION_TOKEN"]
        session = boto3.session.Session(profile_name=where.profile, **keys)
        settings: dict[str, Any] = dict(where.client_config)
        settings.update(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3})
        if where.anonymous:
            from botocore import UNSIGNED

            settings["signature_version"] = UNSIGNED
        self.bucket = where.bucket
        self.put_extra = dict(where.put_extra)
        region = where.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        self._client = session.client(
            "s3", region_name=region, endpoint_url=where.endpoint, config=Config(**settings)
        )

    def get(self, key: str) -> StoredObject | None:
        """The object, or None when there is none."""
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            return StoredObject(answer["Body"].read(), str(answer["ETag"]))
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise S3Error(_describe("read", self.bucket, key, exc)) from None

    def delete_if_unchanged(self, key: str, etag: str) -> bool:
        """Delete the object only if it is still the one read (same ETag): False when a store
        that checks says it is gone or changed. A store that ignores `If-Match` on a delete
        answers as for any delete (True)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            return True
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound", "PreconditionFailed", "412"):
                return False
            raise S3Error(_describe("delete", self.bucket, key, exc)) from None

    def create(self, key: str, body: bytes, replacing: str | None = None) -> bool:
        """Write the object only if there is none (`If-None-Match: *`), or only over the one
        with ETag `replacing`: False when another writer got there first."""
        condition = {"IfMatch": replacing} if replacing else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                **condition,
                **self.put_extra,
            )
            return True
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise S3Error(_describe("write", self.bucket, key, exc)) from None

    def close(self) -> None:
        self._client.close()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        return str(error.get("Code", ""))
    return ""


def _describe(what: str, bucket: str, key: str, exc: Exception) -> str:
    """The failure without the request (botocore's messages name the operation and the
    service's code; they carry no credentials)."""
    code = _code(exc)
    reason = f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
    return f"could not {what} s3://{bucket}/{key} ({reason})"
