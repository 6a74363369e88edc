"""Housekeeping: `uploadcore abort`, `uploadcore gc`, `uploadcore db upgrade`."""

from __future__ import annotations

from datetime import timedelta

import click

from uploadcore.entrypoints import reports
from uploadcore.entrypoints.cli.common import (
    announce_data_dir,
    composed,
    echo_json,
    fail,
    one_line_errors,
    settings,
)
from uploadcore.entrypoints.params import Duration, Text, duration_text


@click.command(short_help="Abort an upload in progress, whoever owns it.")
@click.argument("file_id", metavar="ID", type=Text())
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@one_line_errors
def abort(file_id: str, as_json: bool) -> None:
    """Abort upload ID (its file id) whoever owns it, and free its stored parts.

    Exits 1 with one line when there is no such upload or it is not in progress
    (completed, failed or already aborted).

    \b
    Examples:
      uploadcore abort 4bbc246cb0189d67f434260afe33bfbd
      uploadcore abort 4bbc246cb0189d67f434260afe33bfbd --json
    """
    with composed() as core:
        aborted = core.force_abort(file_id)
    if as_json:
        echo_json(reports.aborted_json(aborted))
    else:
        click.echo(reports.aborted_line(aborted))


@click.command(short_help="Free what abandoned and crashed uploads hold.")
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@click.option(
    "--purge-after",
    type=Duration(),
    default="7d",
    show_default=True,
    help="Purge aborted and failed records that ended longer ago than this (90s, 15m, 1h, 7d).",
)
@one_line_errors
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
    alone. Works in batches of 1,000 rows, each its own short transaction.
    Exits 1 (after the summary) if some storage could not be freed now.

    \b
    Examples:
      uploadcore gc --dry-run
      uploadcore gc --purge-after 30d --json
      0 * * * * cd /srv/uploadcore && uploadcore gc   (crontab: hourly)
    """
    with composed() as core:
        report = core.gc(purge_after).collect(dry_run=dry_run)
    shown = duration_text(purge_after)
    if as_json:
        echo_json(reports.gc_json(report, int(purge_after.total_seconds())))
    else:
        click.echo("\n".join(reports.gc_lines(report, shown)))
    if report.errors:
        fail(
            f"could not free the storage of {report.errors} uploads or leftovers now; run gc again"
        )


@click.group(short_help="Database schema tasks.")
def db() -> None:
    """Database schema tasks.

    \b
    Example:
      UPLOADCORE_DATABASE_URL=postgresql+psycopg://app@db/uploads uploadcore db upgrade
    """


@db.command("upgrade", short_help="Apply the schema migrations.")
@one_line_errors
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic) to UPLOADCORE_DATABASE_URL.

    serve does it on start; run this from a deploy step before starting
    several instances. Safe to run again: it does nothing when up to date.

    \b
    Example:
      uploadcore db upgrade
    """
    from uploadcore import bootstrap

    configured = settings()
    announce_data_dir(configured)
    configured.data_dir.mkdir(parents=True, exist_ok=True)
    bootstrap.migrate(configured)
    click.echo("database schema is up to date")
