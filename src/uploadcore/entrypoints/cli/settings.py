"""`uploadcore settings`: the settings in effect, where each came from, secrets masked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from uploadcore.domain.sizes import size_text
from uploadcore.entrypoints.cli.common import echo_json, one_line_errors, settings
from uploadcore.entrypoints.params import duration_text
from uploadcore.settings import PREFIX, Settings

_SIZES = {"max_file_upload_size", "min_part_size"}
#: Settings whose default is made from DATA_DIR.
_UNDER_DATA_DIR = {"database_url", "media_root"}


@dataclass(frozen=True)
class Shown:
    name: str  # the variable, UPLOADCORE_<NAME>
    value: str
    source: str  # the variable, "default", or what it was made from


@click.command("settings", short_help="Show the settings in effect and where each came from.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@one_line_errors
def settings_command(as_json: bool) -> None:
    """Show every setting in effect, its value and where it came from.

    A value comes from its UPLOADCORE_* variable, from DATA_DIR (the
    database and media), from the secret key file, or is the default. The
    secret key is never shown, nor a password in the database URL.

    \b
    Examples:
      uploadcore settings
      UPLOADCORE_MAX_PARTS=500 uploadcore settings --json
    """
    rows = shown(settings(), os.environ)
    if as_json:
        echo_json([row.__dict__ for row in rows])
        return
    table = [("NAME", "VALUE", "SOURCE"), *((r.name, r.value, r.source) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for name, value, source in table:
        click.echo(f"{name.ljust(widths[0])}  {value.ljust(widths[1])}  {source}".rstrip())


def shown(configured: Settings, environ: Mapping[str, str]) -> list[Shown]:
    """Each setting as the table shows it."""
    rows = []
    for field in fields(Settings):
        variable = PREFIX + field.name.upper()
        given = bool(environ.get(variable, "").strip())
        value = getattr(configured, field.name)
        if given:
            source = variable
        elif field.name in _UNDER_DATA_DIR:
            source = f"default, under {PREFIX}DATA_DIR"
        else:
            source = "default"
        if field.name == "secret_key":
            rows.append(Shown(variable, *_secret(configured, given)))
            continue
        rows.append(Shown(variable, _text(field.name, value), source))
    return rows


def _secret(configured: Settings, given: bool) -> tuple[str, str]:
    if given:
        return "(set, hidden)", f"{PREFIX}SECRET_KEY"
    path = configured.secret_key_file.absolute()
    if path.exists():
        return "(hidden)", f"the file {path}"
    return "(none yet)", f"uploadcore serve will create {path}"


def _text(name: str, value: object) -> str:
    if name == "log_format" and value is None:
        return "(text on a terminal, else json)"
    if value is None or value == ():
        return "(none)"
    if name == "metrics_token":
        return "(set, hidden)"
    if name in _SIZES and isinstance(value, int):
        return size_text(value)
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, Path):
        return str(value.absolute())
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if name == "database_url":
        return _without_password(str(value))
    return str(value)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
