"""`uploadcore upload`: the upload client, over the HTTP API."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import click

from uploadcore.entrypoints import reports
from uploadcore.entrypoints.cli.common import echo_json, fail, one_line_errors
from uploadcore.entrypoints.params import Size, Text
from uploadcore.settings import is_utf8


@click.command(short_help="Upload a file through the API, with resume.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--url",
    type=Text(),
    required=True,
    envvar="UPLOADCORE_URL",
    help="The server's base URL, e.g. http://127.0.0.1:8000 [default: $UPLOADCORE_URL].",
)
@click.option(
    "--key",
    type=Text(),
    required=True,
    envvar=["UPLOADCORE_KEY", "UPLOADCORE_API_KEY"],
    help="Your API key [default: $UPLOADCORE_KEY, which keeps it out of the process list].",
)
@click.option(
    "--part-size",
    type=Size(),
    help="Bytes per part, e.g. 16MiB [default: 8MiB, grown to stay within 10,000 parts]. "
    "The server's MIN_PART_SIZE applies (5 MiB by default). Ignored with --resume.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="How many parts to send at once.",
)
@click.option(
    "--resume",
    metavar="ID",
    type=Text(),
    help="Resume upload ID: send only the parts the server does not hold "
    "(a part it holds is kept if its size and MD5 match the file). The upload "
    "keeps its own name, type and part size.",
)
@click.option("--name", type=Text(), help="The file name to record [default: PATH's base name].")
@click.option(
    "--content-type",
    type=Text(),
    help="The MIME type to record [default: guessed from the name].",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=7,
    show_default=True,
    help="Tries again after a connection error, a timeout, 429 or 5xx (exponential backoff).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON; no progress bar.")
@one_line_errors
def upload(
    path: Path,
    url: str,
    key: str,
    part_size: int | None,
    parallel: int,
    resume: str | None,
    name: str | None,
    content_type: str | None,
    retries: int,
    as_json: bool,
) -> None:
    """Upload the file at PATH through the API at --url, and print its id and url.

    Parts go in parallel, straight to the URLs the server signs (the server
    itself on local storage, S3 on S3), streamed from the file. A progress
    bar shows the rate and the time left when stderr is a terminal. Failed
    requests are tried again with backoff, and expired part URLs refreshed.
    If the upload stops (Ctrl-C, a lost connection), its id is on stderr:
    run the same command with --resume ID to send only what is missing.

    \b
    Examples:
      export UPLOADCORE_URL=http://127.0.0.1:8000 UPLOADCORE_KEY=uc_...
      uploadcore upload video.bin
      uploadcore upload video.bin --parallel 8 --part-size 64MiB
      uploadcore upload video.bin --resume 4bbc246cb0189d67f434260afe33bfbd
      uploadcore upload scan.pdf --name "Scan 2024.pdf" --json
    """
    from uploadcore.entrypoints import client  # httpx2 and rich load for this command only

    if name is None and not is_utf8(path.name):
        fail(f"the file name {path.name!r} is not valid UTF-8; give the name to record with --name")
    request = client.UploadRequest(path, name, content_type, part_size, parallel, resume)
    bar = sys.stderr.isatty() and not as_json
    with client.http_client(url, parallel) as http:
        api = client.Api(url, key, http, client.RetryPolicy(attempts=retries + 1))
        uploader = client.Uploader(
            api,
            progress=client.BarProgress if bar else lambda _n, _t, _d: client.NoProgress(),
            notify=lambda line: click.echo(line, err=True),
            resume_command=resume_command(click.get_current_context(), path, url),
        )
        try:
            result = uploader.upload(request)
        except client.Interrupted as stopped:
            fail(stopped.detail, INTERRUPTED)
    if as_json:
        echo_json(reports.upload_json(result))
    else:
        click.echo("\n".join(reports.upload_lines(result)))


#: The exit status of a command stopped by Ctrl-C, as shells report it (128 + SIGINT).
INTERRUPTED = 130

#: The options a resumed upload should keep, when the run took them from the command line.
_KEPT = (("parallel", "--parallel"), ("retries", "--retries"))


def resume_command(ctx: click.Context, path: Path, url: str) -> Callable[[str], str]:
    """The command that resumes this upload, to paste as it is.

    It names the file, the URL and the options this run was given on the
    command line; a key given with --key appears as "$UPLOADCORE_KEY", never
    as its value (a key from the environment is still there).
    """
    words = [_program(), "upload", shlex.quote(str(path)), "--url", shlex.quote(url)]
    if ctx.get_parameter_source("key") is click.core.ParameterSource.COMMANDLINE:
        words += ["--key", '"$UPLOADCORE_KEY"']
    for name, flag in _KEPT:
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            words += [flag, str(ctx.params[name])]
    if ctx.params.get("as_json"):
        words.append("--json")
    command = " ".join(words)
    return lambda file_id: f"{command} --resume {file_id}"


def _program() -> str:
    """`uploadcore` if that runs this program from the shell, else the path it was run by.

    Run as `.venv/bin/uploadcore` with no `uploadcore` on PATH, a hint naming
    plain `uploadcore` would not paste.
    """
    invoked = Path(sys.argv[0])
    if invoked.name != "uploadcore":  # not the console script (python -m, a test runner)
        return "uploadcore"
    on_path = shutil.which("uploadcore")
    if on_path and Path(on_path).resolve() == invoked.resolve():
        return "uploadcore"
    return shlex.quote(sys.argv[0])
