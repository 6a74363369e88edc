"""`uploadcore webhooks`, `uploadcore events` and `uploadcore deliver`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import click

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import UploadcoreError
from uploadcore.domain.events import DeliveryStatus, EventType, rfc3339
from uploadcore.entrypoints.cli.common import composed as _core
from uploadcore.entrypoints.cli.common import echo_json as _echo_json
from uploadcore.entrypoints.cli.common import one_line_errors as _one_line_errors
from uploadcore.entrypoints.params import Text
from uploadcore.ports.events import EventRecord
from uploadcore.services.deliver import DeliverWebhooks
from uploadcore.services.webhooks import ManageWebhooks

TYPES = [t.value for t in EventType]
STATUSES = [s.value for s in DeliveryStatus]


@contextmanager
def _webhooks() -> Iterator[ManageWebhooks]:
    with _core() as core:
        yield _manager(core)


def _manager(core: Uploadcore) -> ManageWebhooks:
    if core.webhooks is None:
        raise UploadcoreError("this repository keeps no events")
    return core.webhooks


@click.group(short_help="Manage the endpoints events are POSTed to.")
def webhooks() -> None:
    """Manage the endpoints events are POSTed to (Standard Webhooks, signed).

    \b
    Examples:
      uploadcore webhooks add https://app.example.com/hooks/uploads
      uploadcore webhooks add https://scan.example.com/ --event upload.completed
      uploadcore webhooks list --json
      uploadcore webhooks remove ID
    """


@webhooks.command("add", short_help="Send events to a URL; prints its signing secret.")
@click.argument("url", type=Text())
@click.option(
    "--event", "types", multiple=True, type=click.Choice(TYPES), help="Only this type (repeat)."
)
@_one_line_errors
def webhooks_add(url: str, types: tuple[str, ...]) -> None:
    """Send events to URL (every type unless --event is given).

    Prints the endpoint id, then its signing secret (whsec_...) alone on the
    last line: receivers verify each delivery with it.

    \b
    Examples:
      uploadcore webhooks add https://app.example.com/hooks/uploads
      SECRET=$(uploadcore webhooks add https://x.example/ --event file.deleted | tail -n 1)
    """
    with _webhooks() as manager:
        endpoint = manager.add(url, types)
    wanted = ", ".join(sorted(endpoint.event_types)) or "every event"
    click.echo(f"added webhook endpoint {endpoint.id} for {wanted}; its signing secret:")
    click.echo(endpoint.secret)


@webhooks.command("list", short_help="List the endpoints (never their secrets).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_one_line_errors
def webhooks_list(as_json: bool) -> None:
    """List the endpoints: id, URL and the event types they receive (never the secret).

    \b
    Examples:
      uploadcore webhooks list
      uploadcore webhooks list --json
    """
    with _webhooks() as manager:
        endpoints = manager.endpoints()
    rows = [
        {
            "id": e.id,
            "url": e.url,
            "events": sorted(e.event_types),
            "created": rfc3339(e.created),
        }
        for e in endpoints
    ]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['url']}  {', '.join(row['events']) or 'every event'}")
    if not rows:
        click.echo("no webhook endpoints")


@webhooks.command("remove", short_help="Remove an endpoint.")
@click.argument("endpoint_id", metavar="ID", type=Text())
@_one_line_errors
def webhooks_remove(endpoint_id: str) -> None:
    """Remove endpoint ID; its pending deliveries are dropped.

    \b
    Example:
      uploadcore webhooks remove ID
    """
    with _webhooks() as manager:
        manager.remove(endpoint_id)
    click.echo(f"removed webhook endpoint {endpoint_id}")


@click.group(short_help="Inspect events and their deliveries, and send one again.")
def events() -> None:
    """Inspect events and their deliveries, and send one again.

    \b
    Examples:
      uploadcore events list --status failed
      uploadcore events redeliver EVENT_ID
    """


@events.command("list", short_help="List the newest events and their deliveries.")
@click.option("--type", "type_", type=click.Choice(TYPES), help="Only events of this type.")
@click.option(
    "--status", type=click.Choice(STATUSES), help="Only events with a delivery in this state."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many events, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_one_line_errors
def events_list(type_: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List the newest events and how their deliveries stand.

    \b
    Examples:
      uploadcore events list
      uploadcore events list --type upload.completed --status failed --json
    """
    with _webhooks() as manager:
        records = manager.events(type_, status, limit)
    if as_json:
        _echo_json([_record_json(r) for r in records])
        return
    for record in records:
        event = record.event
        states = ", ".join(f"{d.endpoint_id} {d.status} ({d.attempts})" for d in record.deliveries)
        click.echo(
            f"{event.id}  {rfc3339(event.timestamp)}  {event.type}  {event.file_id}  "
            f"{states or 'no deliveries'}"
        )
    if not records:
        click.echo("no events")


def _record_json(record: EventRecord) -> dict[str, object]:
    return {
        **record.event.as_json(),
        "deliveries": [
            {
                "endpoint": d.endpoint_id,
                "status": d.status.value,
                "attempts": d.attempts,
                "next_attempt": rfc3339(d.next_attempt),
                "last_error": d.last_error,
            }
            for d in record.deliveries
        ],
    }


@events.command("redeliver", short_help="Send an event again to its endpoints.")
@click.argument("event_id", metavar="EVENT_ID", type=Text())
@_one_line_errors
def events_redeliver(event_id: str) -> None:
    """Send EVENT_ID again to its endpoints (with the same webhook-id), now.

    \b
    Example:
      uploadcore events redeliver evt_...
    """
    with _webhooks() as manager:
        count = manager.redeliver(event_id)
    click.echo(f"event {event_id} will be delivered again to {count} endpoint(s)")


@click.command(short_help="Deliver webhooks without serving the API.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@_one_line_errors
def deliver(once: bool) -> None:
    """Deliver webhooks without serving the API, until SIGTERM or Ctrl-C.

    Any number of these and of `uploadcore serve` processes may deliver from
    one database: each attempt is made by one of them.

    \b
    Examples:
      uploadcore deliver
      uploadcore deliver --once
    """
    with _core() as core:
        _manager(core)
        deliverer = core.deliverer()
        if once:
            sent = asyncio.run(_drain(deliverer))
            click.echo(f"made {sent} delivery attempt(s)")
            return
        click.echo("delivering webhooks; stop with Ctrl-C or SIGTERM")
        asyncio.run(_run_until_signalled(deliverer))


async def _drain(deliverer: DeliverWebhooks) -> int:
    total = 0
    try:
        while sent := await deliverer.deliver_due():
            total += sent
    finally:
        await deliverer.sender.aclose()
    return total


async def _run_until_signalled(deliverer: DeliverWebhooks) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await deliverer.run(stop)
