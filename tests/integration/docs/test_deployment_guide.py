"""docs/deployment.md names only settings and command options that exist, and the ones CI runs.

The several-instances test (tests/integration/reliability/test_instances.py)
sets its instances up as the guide does: these tests keep the two from
drifting apart.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from uploadcore.entrypoints.cli import main
from uploadcore.settings import unknown_variables

ROOT = Path(__file__).parents[3]
GUIDE = ROOT / "docs" / "deployment.md"
# The settings the several-instances test gives its instances (and gc), all in the guide's file.
RUN_IN_CI = (
    "DATABASE_URL", "SECRET_KEY", "BASE_URL", "UPLOAD_STORAGE_HANDLER",
    "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "DATA_DIR",
)  # fmt: skip


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def env_file() -> dict[str, str]:
    """The settings file the guide has every instance read (commented lines included)."""
    (text,) = [b for b in blocks("sh") if "uploadcore.env: read by systemd" in b]
    pairs = (line.lstrip("# ").partition("=") for line in text.splitlines())
    return {name: value for name, sep, value in pairs if sep and name.isupper()}


def commands() -> list[list[str]]:
    """Every `uploadcore ...` command line in the guide's shell blocks and systemd units."""
    found = []
    for text in blocks("sh") + blocks("ini"):
        for line in text.splitlines():
            line = line.split("#")[0].replace("ExecStart=", "")
            words = shlex.split(line)
            if words and (words[0] == "uploadcore" or words[0].endswith("/bin/uploadcore")):
                found.append(words[1:])
    return found


def test_the_settings_file_names_only_real_settings() -> None:
    names = {n for n in env_file() if n.startswith("UPLOADCORE_")}

    assert names
    assert unknown_variables(dict.fromkeys(names, "x")) == []


def test_the_settings_file_sets_what_the_ci_run_sets() -> None:
    assert {f"UPLOADCORE_{name}" for name in RUN_IN_CI} <= set(env_file())


def test_the_guide_runs_the_commands_the_ci_run_runs() -> None:
    run = {" ".join(c[:2]) for c in commands()}

    assert {"db upgrade", "users create", "gc"} <= run
    (serve,) = [c for c in commands() if c[:1] == ["serve"]]
    assert "--workers" in serve
    assert "--forwarded-allow-ips" in serve


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_every_command_in_the_guide_parses(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])

    assert result.exit_code == 0, result.output


def test_the_proxy_configurations_stream_bodies_and_check_readiness() -> None:
    (nginx,) = blocks("nginx")
    (caddy,) = blocks("caddy")

    for setting in (
        "proxy_request_buffering off;", "proxy_http_version 1.1;", "client_max_body_size",
        "proxy_read_timeout", "X-Forwarded-Proto",
    ):  # fmt: skip
        assert setting in nginx
    assert "health_uri /readyz" in caddy
    assert "max_size" in caddy
