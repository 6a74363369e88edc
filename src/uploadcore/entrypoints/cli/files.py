"""`uploadcore files …`: every user's files, for admins at the shell."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from uploadcore.domain.events import file_representation
from uploadcore.domain.upload import Principal, Upload
from uploadcore.entrypoints.cli.common import composed, echo_json, fail, one_line_errors
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.entrypoints.params import Text
from uploadcore.services.listing import FileQuery

#: The shell acts as an admin: it already holds the database and the media.
SHELL = Principal("uploadcore-cli", is_admin=True)
STATUSES = ["pending", "uploading", "completed", "failed", "aborted", "all"]


@click.group(short_help="List, show, download and delete any user's files.")
def files() -> None:
    """List, show, download and delete files, whoever owns them.

    \b
    Examples:
      uploadcore files list --owner alice --status all
      uploadcore files show FILE_ID --json
      uploadcore files download FILE_ID -o copy.bin
      uploadcore files delete FILE_ID
    """


@files.command("list", short_help="List files, newest first.")
@click.option("--owner", type=Text(), help="Only this user's files.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default="completed",
    show_default=True,
    help="Only files in this upload status (all: every status).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="At most this many.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@one_line_errors
def files_list(owner: str | None, status: str, limit: int, as_json: bool) -> None:
    """List files, newest first: id, status, size, owner, name.

    \b
    Examples:
      uploadcore files list
      uploadcore files list --owner alice --status uploading --json
    """
    with composed() as core:
        query = FileQuery(owner=owner, upload_status=status, limit=limit)
        page = core.list_files(SHELL, query).files
    if as_json:
        echo_json([file_representation(u) for u in page])
        return
    for u in page:
        click.echo(f"{u.id}  {u.status:9}  {u.file_size:>12}  {u.owner}  {u.file_name}")


@files.command("show", short_help="Show one file.")
@click.argument("file_id", metavar="ID", type=Text())
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@one_line_errors
def files_show(file_id: str, as_json: bool) -> None:
    """Show file ID: every field of its representation.

    \b
    Example:
      uploadcore files show FILE_ID --json
    """
    with composed() as core:
        upload = core.get_file(SHELL, file_id)
    shown = file_representation(upload)
    if as_json:
        echo_json(shown)
    else:
        click.echo("\n".join(f"{name}: {value}" for name, value in shown.items()))


@files.command("download", short_help="Write a completed file's bytes.")
@click.argument("file_id", metavar="ID", type=Text())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
@one_line_errors
def files_download(file_id: str, output: Path | None) -> None:
    """Write completed file ID to OUTPUT or standard output (local storage).

    On S3 it prints a presigned URL that fetches the file instead.

    \b
    Examples:
      uploadcore files download FILE_ID -o copy.bin
      uploadcore files download FILE_ID > copy.bin
    """
    with composed() as core:
        upload = core.get_file(SHELL, file_id)
        if core.open_download is None:  # S3: storage serves its files itself
            url = core.file_url(upload, HttpLinks(core.settings.base_url or ""))
            if url is None:
                fail(f"file {file_id} is {upload.status}; there is nothing to download")
            click.echo(url)
            return
        found = core.open_download.opened(upload)
    _write(found.upload, found.file.fd, output)


def _write(upload: Upload, fd: int, output: Path | None) -> None:
    with os.fdopen(fd, "rb") as stored:
        if output is None:
            shutil.copyfileobj(stored, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        with output.open("wb") as target:
            shutil.copyfileobj(stored, target)
    click.echo(f"wrote {upload.file_size} bytes of {upload.file_name!r} to {output}", err=True)


@files.command("delete", short_help="Delete a file and its stored bytes.")
@click.argument("file_id", metavar="ID", type=Text())
@one_line_errors
def files_delete(file_id: str) -> None:
    """Delete file ID, whoever owns it: an upload in progress is aborted first.

    \b
    Example:
      uploadcore files delete FILE_ID
    """
    with composed() as core:
        core.delete_file(SHELL, file_id)
    click.echo(f"deleted file {file_id}")
