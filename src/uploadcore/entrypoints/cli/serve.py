"""`uploadcore serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import logging
import os

import click

from uploadcore.entrypoints.cli.common import one_line_errors, settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@one_line_errors
def serve(host: str, port: int, workers: int) -> None:
    """Run the HTTP API (creates and migrates the embedded database on first start)."""
    import uvicorn

    from uploadcore import bootstrap

    prepared = bootstrap.prepare(settings())
    base_url = prepared.base_url or f"http://{host}:{port}"
    # Worker processes read their settings from the environment: hand them what we resolved.
    os.environ["UPLOADCORE_BASE_URL"] = base_url
    os.environ["UPLOADCORE_SECRET_KEY"] = prepared.secret_key or ""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    click.echo(f"uploadcore listening on {base_url} (data in {prepared.data_dir})")
    uvicorn.run(
        "uploadcore.entrypoints.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_keep_alive=30,
    )
