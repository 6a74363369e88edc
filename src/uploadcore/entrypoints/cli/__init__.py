"""The `uploadcore` command line: thin over the bootstrap and the services.

One module per command or group; each defines its commands on its own, and
they are added to `main` here. A new command is a new module and one line
below. Modules import SQLAlchemy, uvicorn or httpx2 inside the commands that
need them, so `uploadcore upload` and `--help` start quickly.
"""

from __future__ import annotations

from uploadcore.entrypoints.cli.admin import abort, db, gc
from uploadcore.entrypoints.cli.app import main
from uploadcore.entrypoints.cli.files import files
from uploadcore.entrypoints.cli.serve import serve
from uploadcore.entrypoints.cli.settings import settings_command
from uploadcore.entrypoints.cli.upload import upload
from uploadcore.entrypoints.cli.users import users
from uploadcore.entrypoints.cli.webhooks import deliver, events, webhooks

for _command in (
    serve, users, files, abort, gc, db, upload, settings_command, webhooks, events, deliver
):  # fmt: skip
    main.add_command(_command)

__all__ = ["main"]
