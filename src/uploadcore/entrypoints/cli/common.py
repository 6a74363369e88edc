"""What the commands share: one-line errors, the settings, uploadcore composed, JSON output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from uploadcore.domain.errors import UploadcoreError
from uploadcore.settings import Settings, SettingsError

if TYPE_CHECKING:
    from uploadcore.bootstrap import Uploadcore

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(function: F) -> F:
    """Every known failure becomes `error: <detail>` on stderr and exit 1, never a traceback.

    Ctrl-C is `error: interrupted` and exit 130, as shells count a SIGINT.
    """

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UploadcoreError as error:
            fail(error.detail)
        except SettingsError as error:
            fail(f"bad setting: {error}")
        except OSError as error:
            fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def fail(message: str, status: int = 1) -> NoReturn:
    one_line = " ".join(message.split())  # driver messages span lines; ours never do
    click.echo(f"error: {one_line}", err=True)
    sys.exit(status)


def settings() -> Settings:
    return Settings.from_env(os.environ)


def announce_data_dir(configured: Settings) -> None:
    """Say on stderr which data directory the command uses, and whether it is new.

    A command run from another directory would otherwise make a fresh
    ./uploadcore-data silently, and its users and keys would be unknown to the
    server that runs elsewhere.
    """
    path = configured.data_dir.absolute()
    new = "" if path.exists() else "new; "
    if os.environ.get("UPLOADCORE_DATA_DIR", "").strip():
        source = "from UPLOADCORE_DATA_DIR"
    else:
        source = "the default, under the current directory: set UPLOADCORE_DATA_DIR for another"
    click.echo(f"{DATA_DIR_LINE}{path} ({new}{source})", err=True)


#: How the line `announce_data_dir` prints begins.
DATA_DIR_LINE = "data directory: "


@contextmanager
def composed() -> Iterator[Uploadcore]:
    """uploadcore composed from UPLOADCORE_* settings (migrated first), closed afterwards."""
    from uploadcore import bootstrap  # SQLAlchemy loads for the commands that use it

    configured = settings()
    announce_data_dir(configured)
    core = bootstrap.build(bootstrap.prepare(configured))
    try:
        yield core
    finally:
        core.close()


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))
