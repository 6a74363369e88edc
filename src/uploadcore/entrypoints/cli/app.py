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
    the embedded default keeps everything under ./uploadcore-data.
    """
    for warning in unknown_variables(os.environ):
        click.echo(f"warning: {warning}", err=True)
