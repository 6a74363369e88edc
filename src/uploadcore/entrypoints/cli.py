"""The `uploadcore` command line: thin over the bootstrap and the services."""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from uploadcore import bootstrap
from uploadcore.adapters.clock import SystemClock
from uploadcore.domain.errors import UploadcoreError
from uploadcore.services.users import create_user
from uploadcore.settings import Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(function: F) -> F:
    """Every known failure becomes `error: <detail>` on stderr and exit 1, never a traceback."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UploadcoreError as error:
            _fail(error.detail)
        except SettingsError as error:
            _fail(f"bad setting: {error}")
        except OSError as error:
            _fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> None:
    one_line = " ".join(message.split())  # driver messages span lines; ours never do
    click.echo(f"error: {one_line}", err=True)
    sys.exit(1)


def _settings() -> Settings:
    return Settings.from_env(os.environ)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="uploadcore")
def main() -> None:
    """uploadcore: resumable multipart file uploads.

    Settings come from UPLOADCORE_* environment variables (see the README);
    the embedded default keeps everything under ./uploadcore-data.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@_one_line_errors
def serve(host: str, port: int, workers: int) -> None:
    """Run the HTTP API (creates and migrates the embedded database on first start)."""
    import uvicorn

    settings = bootstrap.prepare(_settings())
    base_url = settings.base_url or f"http://{host}:{port}"
    # Worker processes read their settings from the environment: hand them what we resolved.
    os.environ["UPLOADCORE_BASE_URL"] = base_url
    os.environ["UPLOADCORE_SECRET_KEY"] = settings.secret_key or ""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    click.echo(f"uploadcore listening on {base_url} (data in {settings.data_dir})")
    uvicorn.run(
        "uploadcore.entrypoints.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=_log_config(uvicorn.config.LOGGING_CONFIG),
        timeout_keep_alive=30,
    )


class RedactTokens(logging.Filter):
    """Access log lines keep the path but not a URL's token: it grants a part or a file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


_TOKEN = re.compile(r"([?&]token=)[^&\s]+")


def _log_config(base: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(base)
    config.setdefault("filters", {})["redact_tokens"] = {"()": f"{__name__}.RedactTokens"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_tokens")
    return config


@main.group()
def users() -> None:
    """Manage users and their API keys."""


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="The user may act on every file.")
@_one_line_errors
def users_create(name: str, admin: bool) -> None:
    """Create a user and print its API key (alone on the last line; shown only once)."""
    settings = bootstrap.prepare(_settings())
    core = bootstrap.build(settings)
    try:
        new = create_user(core.users, name, admin, SystemClock().now())
    finally:
        core.close()
    role = "admin" if admin else "user"
    click.echo(f"created {role} {new.principal.name}; API key (store it now, it is not kept):")
    click.echo(new.api_key)


@main.group()
def db() -> None:
    """Database schema tasks."""


@db.command("upgrade")
@_one_line_errors
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic) to UPLOADCORE_DATABASE_URL."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bootstrap.migrate(settings)
    click.echo("database schema is up to date")
