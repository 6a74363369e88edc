"""`uploadcore serve`: the HTTP API under uvicorn, on a socket we bind ourselves.

Binding first lets a busy or forbidden port fail with one line naming it,
before anything is printed or migrated, and lets `--port 0` hand out URLs
with the port the kernel chose rather than `:0`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from uploadcore.entrypoints.cli.common import announce_data_dir, fail, one_line_errors, settings

if TYPE_CHECKING:
    import uvicorn

APP_FACTORY = "uploadcore.entrypoints.http.app:app_from_environment"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's; adapters/prometheus.py reads it


@click.command(short_help="Run the HTTP API.")
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="Interface to listen on (0.0.0.0 for every IPv4 one; put TLS in front).",
)  # fmt: skip
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
    help="TCP port; 0 lets the kernel pick a free one (printed, and used in the URLs).",
)  # fmt: skip
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="Worker processes sharing the port.",
)  # fmt: skip
@click.option(
    "--forwarded-allow-ips", metavar="ADDRESSES", callback=lambda _c, _p, v: trusted_proxies(v),
    help="Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated "
    "addresses or networks, * for any. Default: $FORWARDED_ALLOW_IPS, else 127.0.0.1.",
)  # fmt: skip
@one_line_errors
def serve(host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Run the HTTP API (creates and migrates the embedded database on first start).

    The data directory is UPLOADCORE_DATA_DIR (./uploadcore-data by default);
    part and download URLs start with UPLOADCORE_BASE_URL, by default the
    address it listens on. Stop it with Ctrl-C (or SIGTERM): it stops
    accepting connections and lets requests in flight (part uploads too)
    finish for up to UPLOADCORE_SHUTDOWN_GRACE (30s), then exits.

    It logs one line per request (UPLOADCORE_LOG_FORMAT: json, or text on a
    terminal), serves Prometheus metrics at /metrics (summed over the
    workers; UPLOADCORE_METRICS_TOKEN guards them), liveness at /healthz and
    readiness (database and storage) at /readyz.

    \b
    Examples:
      uploadcore serve
      uploadcore serve --host 0.0.0.0 --port 8080 --workers 4
      UPLOADCORE_BASE_URL=https://files.example.com uploadcore serve
      uploadcore serve --host 0.0.0.0 --forwarded-allow-ips 10.0.0.0/8
    """
    import uvicorn

    from uploadcore import bootstrap
    from uploadcore.entrypoints.cli.serve_http import OneWriteHttpToolsProtocol
    from uploadcore.entrypoints.log_format import chosen_format, log_config

    configured = settings()
    tune_allocator()
    sock = listening_socket(host, port)
    announce_data_dir(configured)
    address = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
    prepared = bootstrap.prepare(configured)
    base_url = prepared.base_url or address
    # Worker processes read their settings from the environment: hand them what we resolved.
    os.environ["UPLOADCORE_BASE_URL"] = base_url
    os.environ["UPLOADCORE_SECRET_KEY"] = prepared.secret_key or ""
    shown = "" if base_url == address else f", URLs under {base_url}"
    click.echo(f"uploadcore listening on {address}{shown}")
    config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=sock.getsockname()[1], workers=workers,
        log_config=log_config(chosen_format(configured.log_format)), access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=int(configured.shutdown_grace.total_seconds()),
        proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
        ws="none",  # the API has no WebSocket route: no websockets library in memory
        http=OneWriteHttpToolsProtocol,  # an answer's head and body in one write
    )  # fmt: skip
    with metrics_directory(workers):
        _run(uvicorn.Server(config), sock)


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the workers' metrics files, removed at exit.

    Fresh at each start, so counters restart from zero as they do after any
    restart, and a scrape sums only the processes of this run. One worker needs
    none: its metrics live in its memory, where counting a request costs a
    fraction of a microsecond instead of three locked writes to a mapped file.
    """
    if workers == 1:
        os.environ.pop(MULTIPROC_DIR, None)  # a directory of another run's files: not ours
        yield
        return
    if "prometheus_client" in sys.modules:  # its mode is chosen at import: too late
        fail("serve must start before prometheus_client is imported (metrics across workers)")
    directory = tempfile.mkdtemp(prefix="uploadcore-metrics-")
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def trusted_proxies(value: str | None) -> str | None:
    """The --forwarded-allow-ips value, checked: uvicorn would take a typo as a literal."""
    if value is None or value.strip() == "*":
        return value
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        parse = ipaddress.ip_network if "/" in item else ipaddress.ip_address
        try:
            parse(item)
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is not an IP address or network (10.0.0.5, 10.0.0.0/8, or * for any)"
            ) from None
    if not items:
        raise click.BadParameter("give at least one address, or * for any")
    return ",".join(items)


# glibc malloc: pieces of a request body (up to a few hundred KiB each, hundreds a second)
# come and go. By default glibc gives such blocks back to the kernel as soon as they are
# freed (mmap'd blocks, or the top of the heap past 128 KiB), and takes them again
# page by page at the next piece: page faults and zeroing cost a part upload a fifth of
# its CPU. Blocks under 1 MiB come from the heap, and 4 MiB of free heap top are kept.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": 1 << 20, "MALLOC_TRIM_THRESHOLD_": 4 << 20}
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def tune_allocator() -> None:
    """Apply MALLOC_SETTINGS to this process (mallopt) and to worker processes (environment).

    A setting already in the environment wins. Nothing happens off glibc.
    """
    for name, value in MALLOC_SETTINGS.items():
        os.environ.setdefault(name, str(value))
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc (musl, macOS): its allocator is left as it is
    for number, name in ((_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
                         (_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_")):  # fmt: skip
        with contextlib.suppress(ValueError):
            mallopt(number, int(os.environ[name]))


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), as uvicorn would bind it; one line if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is already in use: stop what listens there, "
                "or choose another port with --port"
            )
        fail(f"cannot listen on {host} port {port}: {error.strerror or error}")
    sock.set_inheritable(True)  # worker processes serve on it too
    return sock


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """What `uvicorn.run` does once it has bound its socket."""
    if server.config.workers > 1:
        # The supervisor alone, not `uvicorn.supervisors` and its reloaders.
        from uvicorn.supervisors.multiprocess import Multiprocess

        Multiprocess(server.config, sockets=[sock]).run()  # SIGTERM: each worker drains
        return
    # uvicorn drains on SIGTERM, then sends the signal again to the handler it found:
    # this one makes that a clean exit, so the metrics directory is removed on the way out.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C during the graceful shutdown
        server.run(sockets=[sock])
    if not server.started:
        fail("the server did not start (its log above says why)")


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
