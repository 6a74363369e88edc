"""`uploadcore users …`: users and their API keys."""

from __future__ import annotations

import click

from uploadcore.entrypoints import reports
from uploadcore.entrypoints.cli.common import composed, echo_json, one_line_errors
from uploadcore.entrypoints.params import Text
from uploadcore.services.users import create_user, delete_user, revoke_key, rotate_key


@click.group(short_help="Manage users and their API keys.")
def users() -> None:
    """Manage users and their API keys (only a hash of each key is stored).

    \b
    Examples:
      uploadcore users create alice
      uploadcore users create root --admin
      uploadcore users list --json
      uploadcore users rotate-key alice
      uploadcore users delete alice
    """


@users.command("create", short_help="Create a user and print its API key.")
@click.argument("name", type=Text())
@click.option("--admin", is_flag=True, help="The user may act on every file.")
@one_line_errors
def users_create(name: str, admin: bool) -> None:
    """Create user NAME and print its API key (alone on the last line; shown only once).

    \b
    Examples:
      uploadcore users create alice
      KEY=$(uploadcore users create alice | tail -n 1)
      uploadcore users create root --admin
    """
    from uploadcore.adapters.clock import SystemClock

    with composed() as core:
        new = create_user(core.users, name, admin, SystemClock().now())
    role = "admin" if admin else "user"
    click.echo(f"created {role} {new.principal.name}; API key (store it now, it is not kept):")
    click.echo(new.api_key)


@users.command("list", short_help="List the users and whether their keys work.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@one_line_errors
def users_list(as_json: bool) -> None:
    """List the users: name, role, whether their key is active, when they were created.

    Keys are never shown: only their hashes are stored.

    \b
    Examples:
      uploadcore users list
      uploadcore users list --json
    """
    with composed() as core:
        accounts = list(core.users.list_users())
    if as_json:
        echo_json(reports.users_json(accounts))
    else:
        click.echo("\n".join(reports.users_table(accounts)))


@users.command("revoke-key", short_help="Make a user's API key stop working.")
@click.argument("name", type=Text())
@one_line_errors
def users_revoke_key(name: str) -> None:
    """Revoke NAME's API key: from now on it gets 401. The user and their files stay.

    \b
    Example:
      uploadcore users revoke-key alice
    """
    with composed() as core:
        revoke_key(core.users, name)
    click.echo(
        f"revoked the API key of {name}; `uploadcore users rotate-key {name}` issues a new one"
    )


@users.command("rotate-key", short_help="Give a user a new API key.")
@click.argument("name", type=Text())
@one_line_errors
def users_rotate_key(name: str) -> None:
    """Give NAME a new API key and print it alone on the last line; the old key stops working.

    \b
    Example:
      KEY=$(uploadcore users rotate-key alice | tail -n 1)
    """
    with composed() as core:
        api_key = rotate_key(core.users, name)
    click.echo(
        f"new API key for {name} (store it now, it is not kept; the old one no longer works):"
    )
    click.echo(api_key)


@users.command("delete", short_help="Delete a user; their files stay.")
@click.argument("name", type=Text())
@one_line_errors
def users_delete(name: str) -> None:
    """Delete user NAME: their API key gets 401 at once. Their files stay, listed under
    their name for admins (`uploadcore files list --owner NAME`), until deleted.

    \b
    Example:
      uploadcore users delete alice
    """
    with composed() as core:
        delete_user(core.users, name)
    click.echo(f"deleted user {name}")
