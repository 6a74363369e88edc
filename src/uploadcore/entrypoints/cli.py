"""The `uploadcore` command line: thin over the bootstrap and the services."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from uploadcore import bootstrap
from uploadcore.adapters.clock import SystemClock
from uploadcore.domain.errors import UploadcoreError
from uploadcore.entrypoints import reports
from uploadcore.entrypoints.params import Duration, Size, Text, duration_text
from uploadcore.services.users import create_user, revoke_key, rotate_key
from uploadcore.settings import Settings, SettingsError, is_utf8

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
@click.argument("name", type=Text())
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


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@_one_line_errors
def users_list(as_json: bool) -> None:
    """List the users: name, role, whether their key is active, when they were created.

    Keys are never shown: only their hashes are stored.
    """
    with _core() as core:
        accounts = list(core.users.list_users())
    if as_json:
        _echo_json(reports.users_json(accounts))
    else:
        click.echo("\n".join(reports.users_table(accounts)))


@users.command("revoke-key")
@click.argument("name", type=Text())
@_one_line_errors
def users_revoke_key(name: str) -> None:
    """Revoke NAME's API key: from now on it gets 401. The user and their files stay."""
    with _core() as core:
        revoke_key(core.users, name)
    click.echo(
        f"revoked the API key of {name}; `uploadcore users rotate-key {name}` issues a new one"
    )


@users.command("rotate-key")
@click.argument("name", type=Text())
@_one_line_errors
def users_rotate_key(name: str) -> None:
    """Give NAME a new API key and print it alone on the last line; the old key stops working."""
    with _core() as core:
        api_key = rotate_key(core.users, name)
    click.echo(
        f"new API key for {name} (store it now, it is not kept; the old one no longer works):"
    )
    click.echo(api_key)


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


# -- housekeeping ---------------------------------------------------------------------


@contextmanager
def _core() -> Iterator[bootstrap.Uploadcore]:
    """uploadcore composed from UPLOADCORE_* settings (migrated first), closed afterwards."""
    core = bootstrap.build(bootstrap.prepare(_settings()))
    try:
        yield core
    finally:
        core.close()


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


@main.command()
@click.argument("file_id", metavar="ID", type=Text())
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@_one_line_errors
def abort(file_id: str, as_json: bool) -> None:
    """Abort upload ID (its file id) whoever owns it, and free its stored parts.

    Exits 1 with one line when there is no such upload or it is not in progress
    (completed, failed or already aborted).
    """
    with _core() as core:
        aborted = core.force_abort(file_id)
    if as_json:
        _echo_json(reports.aborted_json(aborted))
    else:
        click.echo(reports.aborted_line(aborted))


@main.command()
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@click.option(
    "--purge-after",
    type=Duration(),
    default="7d",
    show_default=True,
    help="Purge aborted and failed records that ended longer ago than this (90s, 15m, 1h, 7d).",
)
@_one_line_errors
def gc(dry_run: bool, as_json: bool, purge_after: timedelta) -> None:
    """Free what abandoned and crashed uploads hold, then print what was done.

    \b
    1. Aborts uploads in progress past their expiry (UPLOAD_EXPIRES_IN after
       their last activity, counting parts PUT straight to S3) and frees their
       parts; an upload with a part streaming in right now is left alone.
    2. Removes temporary part directories (MEDIA_ROOT/temp_uploads/*) that no
       live upload owns and stray temporary files in MEDIA_ROOT/files/,
       untouched for UPLOAD_EXPIRES_IN: what crashes leave behind.
    3. On S3, aborts multipart uploads under AWS_S3_KEY_PREFIX that no live
       upload owns and that are older than UPLOAD_EXPIRES_IN.
    4. Finishes deletions cut short: files marked deleted more than
       UPLOAD_EXPIRES_IN ago lose their stored bytes, then their record.
    5. Purges the records of aborted and failed uploads older than --purge-after.

    Safe while the server serves and while another gc runs: every change is a
    compare-and-set, and an upload receiving a part or completing is left
    alone. Works in batches of 500 rows, each its own short transaction.
    Exits 1 (after the summary) if some storage could not be freed now.
    """
    with _core() as core:
        report = core.gc(purge_after).collect(dry_run=dry_run)
    shown = duration_text(purge_after)
    if as_json:
        _echo_json(reports.gc_json(report, int(purge_after.total_seconds())))
    else:
        click.echo("\n".join(reports.gc_lines(report, shown)))
    if report.errors:
        _fail(
            f"could not free the storage of {report.errors} uploads or leftovers now; run gc again"
        )


# -- the upload client ----------------------------------------------------------------


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--url",
    type=Text(),
    required=True,
    envvar="UPLOADCORE_URL",
    help="The server's base URL, e.g. http://127.0.0.1:8000 (or UPLOADCORE_URL).",
)
@click.option(
    "--key",
    type=Text(),
    required=True,
    envvar="UPLOADCORE_API_KEY",
    help="Your API key (or UPLOADCORE_API_KEY, which keeps it out of the process list).",
)
@click.option(
    "--part-size",
    type=Size(),
    help="Bytes per part, e.g. 16MiB [default: 8MiB, grown to stay within 10,000 parts]. "
    "The server's MIN_PART_SIZE applies (5 MiB by default). Ignored with --resume.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="How many parts to send at once.",
)
@click.option(
    "--resume",
    metavar="ID",
    type=Text(),
    help="Resume upload ID: send only the parts the server does not hold "
    "(a part it holds is kept if its size and MD5 match the file). The upload "
    "keeps its own name, type and part size.",
)
@click.option("--name", type=Text(), help="The file name to record [default: PATH's base name].")
@click.option(
    "--content-type",
    type=Text(),
    help="The MIME type to record [default: guessed from the name].",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=7,
    show_default=True,
    help="Tries again after a connection error, a timeout, 429 or 5xx (exponential backoff).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON; no progress bar.")
@_one_line_errors
def upload(
    path: Path,
    url: str,
    key: str,
    part_size: int | None,
    parallel: int,
    resume: str | None,
    name: str | None,
    content_type: str | None,
    retries: int,
    as_json: bool,
) -> None:
    """Upload the file at PATH through the API at --url, and print its id and url.

    Parts go in parallel, straight to the URLs the server signs (the server
    itself on local storage, S3 on S3), streamed from the file. A progress
    bar shows the rate and the time left when stderr is a terminal. Failed
    requests are tried again with backoff, and expired part URLs refreshed.
    If the upload stops (Ctrl-C, a lost connection), its id is on stderr:
    run the same command with --resume ID to send only what is missing.
    """
    from uploadcore.entrypoints import client  # httpx2 and rich load for this command only

    if name is None and not is_utf8(path.name):
        _fail(
            f"the file name {path.name!r} is not valid UTF-8; give the name to record with --name"
        )
    request = client.UploadRequest(path, name, content_type, part_size, parallel, resume)
    bar = sys.stderr.isatty() and not as_json
    with client.http_client(url, parallel) as http:
        api = client.Api(url, key, http, client.RetryPolicy(attempts=retries + 1))
        uploader = client.Uploader(
            api,
            progress=client.BarProgress if bar else lambda _name, _total: client.NoProgress(),
            notify=lambda line: click.echo(line, err=True),
        )
        result = uploader.upload(request)
    if as_json:
        _echo_json(reports.upload_json(result))
    else:
        click.echo("\n".join(reports.upload_lines(result)))


# -- events and webhooks (their own module; registered here) ---------------------------

from uploadcore.entrypoints.cli_webhooks import deliver, events, webhooks  # noqa: E402

for _command in (webhooks, events, deliver):
    main.add_command(_command)
