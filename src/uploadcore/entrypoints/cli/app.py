"""The `uploadcore` group itself."""

from __future__ import annotations

import os

import click

from uploadcore.settings import unknown_variables


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="uploadcore")
def main() -> None:
    """uploadcore: resumable multipart file uploads.

    Settings come from UPLOADCORE_* environment variables (see the README);
    the embedded default keeps everything under UPLOADCORE_DATA_DIR,
    ./uploadcore-data by default. Each command has examples in its --help.

    \b
    Examples:
      uploadcore serve                          the API on http://127.0.0.1:8000
      uploadcore users create alice             a user; its API key is the last line
      uploadcore upload video.bin --url http://127.0.0.1:8000 --key "$UPLOADCORE_KEY"
      uploadcore gc --dry-run                   what housekeeping would free
    """
    for warning in unknown_variables(os.environ):
        click.echo(f"warning: {warning}", err=True)
