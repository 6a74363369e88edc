"""The `uploadcore` command line, through Click's runner and as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import httpx2
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from uploadcore import bootstrap
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.cli import main
from uploadcore.entrypoints.cli.common import DATA_DIR_LINE
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

UPLOADCORE = Path(sys.executable).with_name("uploadcore")
SERVER_START_TIMEOUT = 20.0
UNREACHABLE_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/uploadcore"

Run = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh UPLOADCORE_DATA_DIR, with no other UPLOADCORE_ setting leaking in."""
    for name in list(os.environ):
        if name.startswith("UPLOADCORE_") and not name.startswith("UPLOADCORE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data"
    monkeypatch.setenv("UPLOADCORE_DATA_DIR", str(path))
    return path


@pytest.fixture
def run(data_dir: Path) -> Run:
    """Run `uploadcore ARGS...` in process; `env=` adds or overrides variables."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def settings_from_env() -> Settings:
    return Settings.from_env(os.environ)


def api_key_of(result: Result) -> str:
    assert result.exit_code == 0, result.output
    key = result.stdout.rstrip("\n").splitlines()[-1]
    assert key == key.strip()
    assert " " not in key
    return key


def authenticate(key: str) -> Principal | None:
    core = bootstrap.build(settings_from_env())
    try:
        return core.authenticator.authenticate(key)
    finally:
        core.close()


def assert_one_line_error(result: Result, *words: str) -> str:
    """A failed command: non-zero exit, one `error: ...` line on stderr, no traceback."""
    assert result.exit_code != 0
    lines = [n for n in result.stderr.strip().splitlines() if not n.startswith(DATA_DIR_LINE)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]
    return lines[0]


# -- help --------------------------------------------------------------------------


def test_the_top_level_help_lists_the_commands(run: Run) -> None:
    result = run("--help")

    assert result.exit_code == 0
    for command in ("serve", "users", "db"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["serve"], "--port"),
        (["users"], "create"),
        (["users", "create"], "--admin"),
        (["db"], "upgrade"),
        (["db", "upgrade"], "migrations"),
    ],
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_documents_itself(
    run: Run, args: list[str], mentions: str, flag: str
) -> None:
    result = run(*args, flag)

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert mentions in result.stdout


def every_command(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under `group`, with the words that reach it."""
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))
        else:
            yield (*path, name), command


@pytest.mark.parametrize(
    ("path", "command"),
    list(every_command()),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_every_command_s_help_has_examples_and_every_option_a_help_text(
    run: Run, path: tuple[str, ...], command: click.Command
) -> None:
    result = run(*path, "--help")

    assert result.exit_code == 0
    assert "Example" in result.stdout, result.stdout
    undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []
    listing = result.stdout.partition("Commands:")[2]
    assert "..." not in listing  # no command's summary is cut short


def test_the_version_is_printed(run: Run) -> None:
    result = run("--version")

    assert result.exit_code == 0
    assert "0.1.0" in result.stdout


# -- users create -------------------------------------------------------------------


def test_users_create_prints_a_key_that_authenticates_as_the_new_user(run: Run) -> None:
    key = api_key_of(run("users", "create", "alice"))

    assert authenticate(key) == Principal("alice", is_admin=False)


def test_a_created_key_works_against_the_http_api(run: Run) -> None:
    key = api_key_of(run("users", "create", "alice"))
    settings = settings_from_env()

    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/files/uploads/",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "file_name": "a.txt",
                "file_size": 1,
                "file_content_type": "text/plain",
                "num_parts": 1,
                "part_size": 1,
            },
        )
        unauthenticated = client.get("/v1/files/uploads/x/")

    assert response.status_code == 201, response.text
    assert response.json()["file_obj"]["owner"] == "alice"
    assert unauthenticated.status_code == 401


def test_users_create_admin_makes_an_admin(run: Run) -> None:
    result = run("users", "create", "root", "--admin")

    assert "admin" in result.stdout
    assert authenticate(api_key_of(result)) == Principal("root", is_admin=True)


def test_every_user_gets_a_different_key(run: Run) -> None:
    keys = {api_key_of(run("users", "create", name)) for name in ("a", "b", "c")}

    assert len(keys) == 3


def test_only_a_hash_of_the_key_is_stored(run: Run, data_dir: Path) -> None:
    key = api_key_of(run("users", "create", "alice"))

    stored = b"".join(p.read_bytes() for p in data_dir.glob("uploadcore.db*"))
    assert key.encode() not in stored
    assert key.removeprefix("uc_").encode() not in stored


def test_creating_a_user_that_exists_fails_with_one_line(run: Run) -> None:
    first = api_key_of(run("users", "create", "alice"))

    result = run("users", "create", "alice")

    assert result.exit_code == 1
    assert_one_line_error(result, "alice")
    assert result.stdout == ""
    assert authenticate(first) == Principal("alice")


@pytest.mark.parametrize("name", ["two words", "", "x" * 65, "semi;colon"])
def test_a_bad_user_name_fails_with_one_line(run: Run, name: str) -> None:
    result = run("users", "create", name)

    assert result.exit_code == 1
    assert_one_line_error(result, "name")


# -- which data directory --------------------------------------------------------------


def data_dir_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(DATA_DIR_LINE)]


def test_a_command_run_elsewhere_says_it_made_a_new_default_data_directory(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPLOADCORE_DATA_DIR")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    first, second = run("users", "create", "alice"), run("users", "create", "bob")

    default = elsewhere / "uploadcore-data"
    assert data_dir_lines(first) == [
        f"{DATA_DIR_LINE}{default} (new; the default, under the current directory: "
        "set UPLOADCORE_DATA_DIR for another)"
    ]
    assert data_dir_lines(second) == [
        f"{DATA_DIR_LINE}{default} (the default, under the current directory: "
        "set UPLOADCORE_DATA_DIR for another)"
    ]
    assert api_key_of(second)  # the key is still alone on stdout's last line


@pytest.mark.parametrize(
    "command",
    [["users", "create", "a"], ["users", "list"], ["db", "upgrade"], ["gc"], ["abort", "x"]],
)
def test_every_command_that_opens_the_data_directory_names_it_once(
    run: Run, data_dir: Path, command: list[str]
) -> None:
    run("db", "upgrade")

    result = run(*command)

    assert data_dir_lines(result) == [f"{DATA_DIR_LINE}{data_dir} (from UPLOADCORE_DATA_DIR)"]


# -- db upgrade ---------------------------------------------------------------------


def test_db_upgrade_creates_the_database_in_a_fresh_directory_and_is_idempotent(
    run: Run, data_dir: Path
) -> None:
    first = run("db", "upgrade")
    second = run("db", "upgrade")

    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert "up to date" in second.stdout
    assert (data_dir / "uploadcore.db").is_file()
    assert api_key_of(run("users", "create", "alice"))


def test_db_upgrade_against_an_unreachable_postgresql_fails_with_one_line(run: Run) -> None:
    result = run("db", "upgrade", env={"UPLOADCORE_DATABASE_URL": UNREACHABLE_POSTGRES})

    assert result.exit_code == 1
    assert_one_line_error(result, "database")


def test_users_create_against_an_unreachable_postgresql_fails_with_one_line(run: Run) -> None:
    result = run("users", "create", "a", env={"UPLOADCORE_DATABASE_URL": UNREACHABLE_POSTGRES})

    assert result.exit_code == 1
    assert_one_line_error(result, "database")


# -- settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UPLOADCORE_MAX_PARTS", "-3"),
        ("UPLOADCORE_MAX_PARTS", "many"),
        ("UPLOADCORE_MAX_FILE_UPLOAD_SIZE", "lots"),
        ("UPLOADCORE_MIN_PART_SIZE", "-5MiB"),
        ("UPLOADCORE_UPLOAD_EXPIRES_IN", "-1h"),
        ("UPLOADCORE_PRESIGNED_URL_EXPIRES_IN", "soon"),
        ("UPLOADCORE_DATABASE_URL", "mysql://db/uploads"),
        ("UPLOADCORE_BASE_URL", "ftp://example.com"),
        ("UPLOADCORE_SECRET_KEY", "short"),
        ("UPLOADCORE_UPLOAD_STORAGE_HANDLER", "floppy"),
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["users", "create", "alice"]])
def test_a_bad_setting_stops_the_command_with_one_line_naming_it(
    run: Run, data_dir: Path, name: str, value: str, command: list[str]
) -> None:
    result = run(*command, env={name: value})

    assert_one_line_error(result, name)
    assert result.stdout == ""


def test_a_misspelled_setting_is_a_warning_naming_the_closest_and_the_command_runs(
    run: Run,
) -> None:
    result = run("users", "create", "alice", env={"UPLOADCORE_MAX_PART": "3"})

    assert api_key_of(result)
    assert result.stderr.splitlines()[0] == (
        "warning: UPLOADCORE_MAX_PART is not an uploadcore setting and is ignored;"
        " did you mean UPLOADCORE_MAX_PARTS?"
    )


# -- settings -----------------------------------------------------------------------


def test_settings_shows_each_value_and_its_source_and_never_a_secret(
    run: Run, data_dir: Path
) -> None:
    env = {
        "UPLOADCORE_MAX_PARTS": "500",
        "UPLOADCORE_SECRET_KEY": "k" * 40,
        "UPLOADCORE_DATABASE_URL": "postgresql+psycopg://app:s3cret@db/uploads",
        "UPLOADCORE_METRICS_TOKEN": "m" * 32,
    }

    table = run("settings", env=env)
    rows = {row["name"]: row for row in json.loads(run("settings", "--json", env=env).stdout)}

    assert table.exit_code == 0, table.output
    assert "k" * 40 not in table.output + json.dumps(rows)
    assert "s3cret" not in table.output + json.dumps(rows)
    assert "m" * 32 not in table.output + json.dumps(rows)
    assert rows["UPLOADCORE_METRICS_TOKEN"]["value"] == "(set, hidden)"
    assert rows["UPLOADCORE_SHUTDOWN_GRACE"]["value"] == "30s"
    assert rows["UPLOADCORE_MAX_PARTS"] == {
        "name": "UPLOADCORE_MAX_PARTS", "value": "500", "source": "UPLOADCORE_MAX_PARTS",
    }  # fmt: skip
    assert rows["UPLOADCORE_MAX_FILE_UPLOAD_SIZE"]["value"] == "5 GiB (5368709120 bytes)"
    assert rows["UPLOADCORE_MAX_FILE_UPLOAD_SIZE"]["source"] == "default"
    assert rows["UPLOADCORE_DATA_DIR"] == {
        "name": "UPLOADCORE_DATA_DIR", "value": str(data_dir), "source": "UPLOADCORE_DATA_DIR",
    }  # fmt: skip
    assert rows["UPLOADCORE_DATABASE_URL"]["value"] == "postgresql+psycopg://app:***@db/uploads"
    assert rows["UPLOADCORE_SECRET_KEY"]["value"] == "(set, hidden)"
    assert rows["UPLOADCORE_MEDIA_ROOT"]["source"] == "default, under UPLOADCORE_DATA_DIR"
    assert not data_dir.exists()  # showing the settings creates nothing


# -- serve, as a real process --------------------------------------------------------


def wait_for_listening(process: subprocess.Popen[bytes], log: Path) -> str:
    """The address `uploadcore serve` says it listens on, once it has said so."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while "listening on " not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"uploadcore serve did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return log.read_text().split("listening on ")[1].split()[0].rstrip(",")


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uploadcore serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx2.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"uploadcore serve did not answer /healthz:\n{log.read_text()}")


def test_serve_runs_the_api_in_a_real_process(run: Run, data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(UPLOADCORE), "serve", "--port", "0"],  # the kernel picks a free port
            env=dict(os.environ),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = wait_for_listening(process, log)
        assert not url.endswith(":0")
        wait_until_healthy(process, url, log)
        secret = data_dir / "secret_key"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        key = api_key_of(run("users", "create", "alice"))
        downloaded, tokens = upload_through(url, key, b"hello, uploadcore")
    finally:
        process.terminate()
        try:
            process.wait(timeout=SERVER_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    assert downloaded == b"hello, uploadcore"
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it for the process manager to see.
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()
    logged = log.read_text()
    assert f"listening on {url}" in logged
    assert "Application shutdown complete" in logged
    assert "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/" in logged  # a route
    assert not any(token in logged for token in tokens), "a URL token reached the log"
    assert key not in logged


@pytest.mark.parametrize(
    ("trusted", "client"),
    [("127.0.0.1", "203.0.113.9"), ("10.0.0.0/8", "127.0.0.1"), ("*", "203.0.113.9")],
)
def test_serve_believes_forwarded_headers_from_the_proxies_it_is_told_to_trust(
    data_dir: Path, tmp_path: Path, trusted: str, client: str
) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(UPLOADCORE), "serve", "--port", "0", "--forwarded-allow-ips", trusted],
            env=dict(os.environ),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = wait_for_listening(process, log)
        wait_until_healthy(process, url, log)
        forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        answer = httpx2.get(f"{url}/openapi.json", headers=forwarded, trust_env=False)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=SERVER_START_TIMEOUT)

    # The request's log line names the client: the proxy, or the one the proxy names if trusted.
    (line,) = [x for x in log.read_text().splitlines() if "GET /openapi.json" in x]
    assert json.loads(line)["client"] == client, line


@pytest.mark.parametrize("value", ["nonsense", "10.0.0.1/8", " , "])
def test_serve_refuses_a_trusted_proxy_that_is_no_address(run: Run, value: str) -> None:
    result = run("serve", "--port", "0", "--forwarded-allow-ips", value)

    assert result.exit_code == 2
    assert "--forwarded-allow-ips" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_serve_on_a_busy_port_fails_with_one_line_naming_it(run: Run, host: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        result = run("serve", "--host", host, "--port", port)

    assert result.exit_code == 1
    assert_one_line_error(result, f"port {port}", "in use", "--port")
    assert "listening" not in result.output


def upload_through(url: str, key: str, data: bytes) -> tuple[bytes, list[str]]:
    """One whole upload through a running server: the downloaded bytes, the URL tokens used."""
    with httpx2.Client(base_url=url, timeout=10, trust_env=False) as client:
        auth = {"Authorization": f"Bearer {key}"}
        initiated = client.post(
            "/v1/files/uploads/",
            headers=auth,
            json={
                "file_name": "hello.txt",
                "file_size": len(data),
                "file_content_type": "text/plain",
                "num_parts": 1,
                "part_size": len(data),
            },
        )
        assert initiated.status_code == 201, initiated.text
        part_url = initiated.json()["presigned_urls"][0]["url"]
        assert part_url.startswith(url)
        part = client.put(part_url, content=data)
        assert part.status_code == 200, part.text
        file_id = initiated.json()["file_obj"]["id"]
        completed = client.post(
            f"/v1/files/uploads/{file_id}/complete/", headers=auth, json={"parts": [part.json()]}
        )
        assert completed.status_code == 200, completed.text
        download_url = completed.json()["url"]
        tokens = [u.split("token=")[1] for u in (part_url, download_url)]
        return client.get(download_url).content, tokens
