"""The one settings object, read once at the edge from `UPLOADCORE_*` variables."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

PREFIX = "UPLOADCORE_"
SECRET_KEY_FILE = "secret_key"

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def parse_size(value: str) -> int:
    """`5242880`, `5MiB`, `5 MB`, `1.5GiB` -> bytes. KB/MB/GB are powers of 10, KiB/MiB/GiB of 2."""
    match = _NUMBER.fullmatch(value)
    if not match or match[2].lower() not in _SIZE_UNITS:
        raise ValueError("expected bytes or a size such as 5MiB or 5GB")
    size = float(match[1]) * _SIZE_UNITS[match[2].lower()]
    if not size.is_integer():
        raise ValueError("is not a whole number of bytes")
    return int(size)


def parse_duration(value: str) -> timedelta:
    """`3600`, `90s`, `15m`, `1h`, `7d` -> a timedelta."""
    match = _NUMBER.fullmatch(value)
    if not match or match[2].lower() not in _DURATION_UNITS:
        raise ValueError("expected seconds or a duration such as 90s, 15m, 1h or 7d")
    return timedelta(seconds=float(match[1]) * _DURATION_UNITS[match[2].lower()])


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its default (the README's Configuration table)."""

    data_dir: Path = Path("uploadcore-data")
    database_url: str = ""
    media_root: Path = Path()
    # tus on S3: where appended bytes wait, on this machine's disk, until they make a part.
    tus_staging_dir: Path = Path()
    secret_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    upload_storage_handler: Literal["local", "s3"] = "local"
    max_file_upload_size: int = 5 * 2**30
    min_part_size: int = 5 * 2**20
    max_parts: int = 10_000
    presigned_url_expires_in: timedelta = timedelta(hours=1)
    upload_expires_in: timedelta = timedelta(hours=24)
    # A request body that sends nothing for this long is cut off (408): a stalled
    # client must not hold a connection and a half-written part forever.
    body_read_timeout: timedelta = timedelta(seconds=60)
    cors_allow_origins: tuple[str, ...] = ()
    aws_storage_bucket_name: str | None = None
    aws_s3_region_name: str = "us-east-1"
    aws_s3_endpoint_url: str | None = None
    aws_s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    aws_s3_key_prefix: str = "uploadcore/"
    public_base_url: str | None = None
    # Webhooks: one POST gives up after `webhook_timeout`; retries wait `webhook_backoff`,
    # doubling (at most an hour), until `webhook_max_attempts` tries in all.
    webhook_timeout: timedelta = timedelta(seconds=10)
    webhook_backoff: timedelta = timedelta(seconds=5)
    webhook_max_attempts: int = 12
    # Operations: /metrics needs `Authorization: Bearer <metrics_token>` when it is set;
    # request logs are `json` or `text` (None: text on a terminal, else json); on SIGTERM
    # requests in flight get `shutdown_grace` to finish before they are cut off.
    metrics_token: str | None = field(default=None, repr=False)
    log_format: Literal["json", "text"] | None = None
    shutdown_grace: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "media_root", Path(self.media_root))
        if not self.database_url:
            db = (self.data_dir / "uploadcore.db").absolute()
            object.__setattr__(self, "database_url", f"sqlite:///{db}")
        if self.media_root == Path():
            object.__setattr__(self, "media_root", self.data_dir / "media")
        object.__setattr__(self, "media_root", self.media_root.absolute())
        staging = Path(self.tus_staging_dir)
        if staging == Path():
            staging = self.data_dir / "tmp" / "tus"
        object.__setattr__(self, "tus_staging_dir", staging.absolute())

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from `UPLOADCORE_<NAME>` variables; SettingsError names a bad one."""
        values: dict[str, object] = {}
        for name, parse in _PARSERS.items():
            raw = environ.get(PREFIX + name.upper())
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(_utf8(raw.strip()))
            except ValueError as error:
                shown = "<hidden>" if name in _SECRETS else repr(raw)  # never echo a key
                raise SettingsError(f"{PREFIX}{name.upper()}={shown}: {error}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.upload_storage_handler == "s3" and not settings.aws_storage_bucket_name:
            raise SettingsError(
                f"{PREFIX}AWS_STORAGE_BUCKET_NAME must be set"
                f" when {PREFIX}UPLOAD_STORAGE_HANDLER=s3"
            )
        return settings

    def with_secret_key(self, secret_key: str) -> Settings:
        return replace(self, secret_key=secret_key)

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / SECRET_KEY_FILE


#: UPLOADCORE_* variables that are not settings of the service: the upload client's
#: defaults, and the test suite's own.
CLIENT_VARIABLES = ("UPLOADCORE_URL", "UPLOADCORE_KEY", "UPLOADCORE_API_KEY")
_TEST_PREFIX = "UPLOADCORE_TEST_"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per `UPLOADCORE_*` variable that nothing reads, naming the closest name.

    A misspelled setting would otherwise be ignored without a word, and its
    default used instead.
    """
    known = [PREFIX + name.upper() for name in _PARSERS] + list(CLIENT_VARIABLES)
    warnings = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known or name.startswith(_TEST_PREFIX):
            continue
        # Compared without the prefix, which every name shares and which would make any
        # two names look alike.
        suffixes = [k.removeprefix(PREFIX) for k in known]
        closest = difflib.get_close_matches(name.removeprefix(PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"; did you mean {PREFIX}{closest[0]}?" if closest else ""
        warnings.append(f"{name} is not an uploadcore setting and is ignored{hint}")
    return warnings


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8.

    Python decodes bytes that are not UTF-8, in arguments and environment
    variables, to lone surrogates, which cannot be.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _utf8(value: str) -> str:
    if not is_utf8(value):
        raise ValueError("is not valid UTF-8")
    return value


def _positive_size(value: str) -> int:
    size = parse_size(value)
    if size < 1:
        raise ValueError("must be at least 1 byte")
    return size


def _positive_duration(value: str) -> timedelta:
    duration = parse_duration(value)
    if duration.total_seconds() < 1:
        raise ValueError("must be at least one second")
    return duration


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError("expected a whole number of at least 1")
    return int(value)


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def _secret(value: str) -> str:
    if len(value) < 32:
        raise ValueError(
            "must be at least 32 characters (generate one with `openssl rand -hex 32`)"
        )
    return value


def _grace(value: str) -> timedelta:
    duration = parse_duration(value)
    if duration.total_seconds() > 3600:
        raise ValueError("must be at most an hour")
    return duration


def _token(value: str) -> str:
    if len(value) < 16 or not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError("must be at least 16 printable ASCII characters, without spaces")
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin != "*":
            _url(origin)
    return origins


def _database_url(value: str) -> str:
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        raise ValueError("expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return value


_PARSERS: dict[str, Callable[[str], object]] = {
    "data_dir": Path,
    "database_url": _database_url,
    "media_root": Path,
    "tus_staging_dir": Path,
    "secret_key": _secret,
    "base_url": _url,
    "upload_storage_handler": _one_of("local", "s3"),
    "max_file_upload_size": parse_size,
    "min_part_size": _positive_size,
    "max_parts": _count,
    "presigned_url_expires_in": _positive_duration,
    "upload_expires_in": _positive_duration,
    "body_read_timeout": _positive_duration,
    "cors_allow_origins": _origins,
    "aws_storage_bucket_name": str,
    "aws_s3_region_name": str,
    "aws_s3_endpoint_url": _url,
    "aws_s3_addressing_style": _one_of("auto", "path", "virtual"),
    "aws_s3_key_prefix": str,
    "public_base_url": _url,
    "webhook_timeout": _positive_duration,
    "webhook_backoff": _positive_duration,
    "webhook_max_attempts": _count,
    "metrics_token": _token,
    "log_format": _one_of("json", "text"),
    "shutdown_grace": _grace,
}
#: Settings whose values are never shown in an error message.
_SECRETS = frozenset({"secret_key", "metrics_token"})
