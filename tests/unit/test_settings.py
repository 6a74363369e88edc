"""Settings.from_env: SPEC section 5's defaults, units, and errors that name the variable."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from uploadcore import settings as settings_module
from uploadcore.settings import Settings, SettingsError, unknown_variables

KiB, MiB, GiB = 2**10, 2**20, 2**30


def from_env(**variables: str) -> Settings:
    return Settings.from_env({f"UPLOADCORE_{name}": value for name, value in variables.items()})


def error_for(**variables: str) -> str:
    with pytest.raises(SettingsError) as raised:
        from_env(**variables)
    return str(raised.value)


# -- defaults ------------------------------------------------------------------


def test_an_empty_environment_gives_the_spec_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.data_dir == Path("./uploadcore-data")
    assert settings.upload_storage_handler == "local"
    assert settings.max_file_upload_size == 5 * GiB
    assert settings.min_part_size == 5 * MiB
    assert settings.max_parts == 10_000
    assert settings.presigned_url_expires_in == timedelta(seconds=3600)
    assert settings.upload_expires_in == timedelta(seconds=86400)
    assert settings.cors_allow_origins == ()
    assert settings.secret_key is None
    assert settings.base_url is None


def test_the_s3_settings_default_as_the_spec_says() -> None:
    settings = Settings.from_env({})

    assert settings.aws_storage_bucket_name is None
    assert settings.aws_s3_region_name == "us-east-1"
    assert settings.aws_s3_endpoint_url is None
    assert settings.aws_s3_addressing_style == "auto"
    assert settings.aws_s3_key_prefix == "uploadcore/"
    assert settings.public_base_url is None


def test_the_database_and_media_live_under_the_data_dir_by_default() -> None:
    settings = Settings.from_env({})
    data_dir = Path("uploadcore-data").absolute()

    assert settings.database_url == f"sqlite:///{data_dir / 'uploadcore.db'}"
    assert settings.media_root == data_dir / "media"


def test_the_database_and_media_follow_a_configured_data_dir(tmp_path: Path) -> None:
    settings = from_env(DATA_DIR=str(tmp_path / "d"))

    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'uploadcore.db'}"
    assert settings.media_root == tmp_path / "d" / "media"
    assert settings.secret_key_file == tmp_path / "d" / "secret_key"


def test_explicit_database_url_and_media_root_win_over_the_data_dir(tmp_path: Path) -> None:
    settings = from_env(
        DATA_DIR=str(tmp_path / "d"),
        DATABASE_URL="postgresql+psycopg://u@db/uploads",
        MEDIA_ROOT=str(tmp_path / "m"),
    )

    assert settings.database_url == "postgresql+psycopg://u@db/uploads"
    assert settings.media_root == tmp_path / "m"


def test_blank_variables_count_as_unset() -> None:
    assert from_env(MAX_PARTS="", CORS_ALLOW_ORIGINS="  ") == Settings.from_env({})


def test_variables_without_the_prefix_are_ignored() -> None:
    assert Settings.from_env({"MAX_PARTS": "junk", "PATH": "/bin"}).max_parts == 10_000


def test_the_secret_key_is_not_in_the_repr() -> None:
    settings = from_env(SECRET_KEY="s" * 40)

    assert settings.secret_key == "s" * 40
    assert "s" * 40 not in repr(settings)


# -- sizes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("5242880", 5 * MiB),
        ("1KB", 1000),
        ("1KiB", KiB),
        ("5MB", 5_000_000),
        ("5MiB", 5 * MiB),
        ("2GB", 2_000_000_000),
        ("2GiB", 2 * GiB),
        ("1TB", 10**12),
        ("1TiB", 2**40),
        ("5 MiB", 5 * MiB),
        (" 5mib ", 5 * MiB),
        ("1.5GiB", 3 * GiB // 2),
        ("100B", 100),
    ],
)
def test_sizes_take_plain_bytes_or_units(value: str, size: int) -> None:
    assert from_env(MAX_FILE_UPLOAD_SIZE=value).max_file_upload_size == size
    assert from_env(MIN_PART_SIZE=value).min_part_size == size


@pytest.mark.parametrize(
    "value", ["-1", "-5MiB", "five", "5XB", "5 M iB", "MiB", "1e9", "0x10", "1.7", "0.5B"]
)
def test_a_bad_size_names_the_variable_and_the_value(value: str) -> None:
    message = error_for(MAX_FILE_UPLOAD_SIZE=value)

    assert "UPLOADCORE_MAX_FILE_UPLOAD_SIZE" in message
    assert value in message


@pytest.mark.parametrize("value", ["0", "0MiB"])
def test_the_minimum_part_size_is_at_least_one_byte(value: str) -> None:
    assert "UPLOADCORE_MIN_PART_SIZE" in error_for(MIN_PART_SIZE=value)


# -- durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "duration"),
    [
        ("3600", timedelta(hours=1)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("24H", timedelta(hours=24)),
        ("1.5h", timedelta(minutes=90)),
        (" 2 d ", timedelta(days=2)),
    ],
)
def test_durations_take_seconds_or_units(value: str, duration: timedelta) -> None:
    assert from_env(UPLOAD_EXPIRES_IN=value).upload_expires_in == duration
    assert from_env(PRESIGNED_URL_EXPIRES_IN=value).presigned_url_expires_in == duration


@pytest.mark.parametrize("value", ["-1", "-1h", "soon", "1w", "h", "1h30m", "0", "0s", "0.5s"])
def test_a_bad_duration_names_the_variable_and_the_value(value: str) -> None:
    message = error_for(PRESIGNED_URL_EXPIRES_IN=value)

    assert "UPLOADCORE_PRESIGNED_URL_EXPIRES_IN" in message
    assert value in message


# -- counts, choices, URLs -----------------------------------------------------


def test_max_parts_takes_a_whole_number() -> None:
    assert from_env(MAX_PARTS="500").max_parts == 500


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1e4", "10.5"])
def test_a_bad_max_parts_names_the_variable(value: str) -> None:
    assert "UPLOADCORE_MAX_PARTS" in error_for(MAX_PARTS=value)


def test_s3_storage_needs_a_bucket() -> None:
    message = error_for(UPLOAD_STORAGE_HANDLER="s3")

    assert "UPLOADCORE_AWS_STORAGE_BUCKET_NAME" in message


def test_s3_storage_with_a_bucket_is_fine() -> None:
    settings = from_env(
        UPLOAD_STORAGE_HANDLER="s3",
        AWS_STORAGE_BUCKET_NAME="uploads",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000/",
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_KEY_PREFIX="tenant-a/",
    )

    assert settings.upload_storage_handler == "s3"
    assert settings.aws_storage_bucket_name == "uploads"
    assert settings.aws_s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.aws_s3_addressing_style == "path"
    assert (settings.aws_s3_region_name, settings.aws_s3_key_prefix) == ("eu-west-1", "tenant-a/")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UPLOAD_STORAGE_HANDLER", "gcs"),
        ("AWS_S3_ADDRESSING_STYLE", "sideways"),
        ("BASE_URL", "example.com"),
        ("BASE_URL", "ftp://example.com"),
        ("PUBLIC_BASE_URL", "cdn"),
        ("AWS_S3_ENDPOINT_URL", "localhost:9000"),
        ("DATABASE_URL", "mysql://db/x"),
    ],
)
def test_a_bad_choice_or_url_names_the_variable_and_the_value(name: str, value: str) -> None:
    message = error_for(**{name: value})

    assert f"UPLOADCORE_{name}" in message
    assert value in message


def test_base_url_loses_its_trailing_slash() -> None:
    assert from_env(BASE_URL="https://files.example.com/").base_url == "https://files.example.com"


def test_a_short_secret_key_is_refused_without_echoing_it() -> None:
    message = error_for(SECRET_KEY="hunter2-but-longer")

    assert "UPLOADCORE_SECRET_KEY" in message
    assert "hunter2" not in message


def test_a_short_metrics_token_is_refused_without_echoing_it() -> None:
    message = error_for(METRICS_TOKEN="scrape-me")

    assert "UPLOADCORE_METRICS_TOKEN" in message
    assert "scrape-me" not in message


def test_operations_settings_have_their_defaults_and_parse() -> None:
    assert from_env().metrics_token is None
    assert from_env().log_format is None  # text on a terminal, else json
    assert from_env().shutdown_grace == timedelta(seconds=30)
    settings = from_env(METRICS_TOKEN="t" * 16, LOG_FORMAT="json", SHUTDOWN_GRACE="0")
    assert settings.metrics_token == "t" * 16
    assert "t" * 16 not in repr(settings)
    assert settings.log_format == "json"
    assert settings.shutdown_grace == timedelta(0)  # cut off at once


@pytest.mark.parametrize(
    ("name", "value"), [("LOG_FORMAT", "yaml"), ("SHUTDOWN_GRACE", "2h"), ("SHUTDOWN_GRACE", "-1")]
)
def test_bad_operations_settings_are_named(name: str, value: str) -> None:
    assert f"UPLOADCORE_{name}" in error_for(**{name: value})


# -- CORS ----------------------------------------------------------------------


def test_cors_origins_are_a_comma_separated_list() -> None:
    settings = from_env(CORS_ALLOW_ORIGINS="https://a.example, http://b.example:8080/ ,")

    assert settings.cors_allow_origins == ("https://a.example", "http://b.example:8080")


def test_cors_origins_may_be_a_wildcard() -> None:
    assert from_env(CORS_ALLOW_ORIGINS="*").cors_allow_origins == ("*",)


def test_a_bad_cors_origin_names_the_variable() -> None:
    message = error_for(CORS_ALLOW_ORIGINS="https://a.example,b.example")

    assert "UPLOADCORE_CORS_ALLOW_ORIGINS" in message
    assert "b.example" in message


# -- text that is not UTF-8 ----------------------------------------------------------


@pytest.mark.parametrize("name", [name.upper() for name in settings_module._PARSERS])
def test_a_value_that_is_not_utf8_names_the_variable(name: str) -> None:
    # Bytes that are not UTF-8 reach os.environ as lone surrogates: no setting can use them.
    message = error_for(**{name: "s3cret-value-" * 4 + os.fsdecode(b"\xff")})

    assert f"UPLOADCORE_{name}" in message
    assert "is not valid UTF-8" in message
    if name == "SECRET_KEY":
        assert "s3cret" not in message


def test_a_misspelled_variable_is_warned_about_naming_the_closest_setting() -> None:
    warnings = unknown_variables(
        {"UPLOADCORE_MAX_PART": "3", "UPLOADCORE_DATADIR": "x", "UPLOADCORE_ZZZ": "1"}
    )

    assert warnings == [
        "UPLOADCORE_DATADIR is not an uploadcore setting and is ignored;"
        " did you mean UPLOADCORE_DATA_DIR?",
        "UPLOADCORE_MAX_PART is not an uploadcore setting and is ignored;"
        " did you mean UPLOADCORE_MAX_PARTS?",
        "UPLOADCORE_ZZZ is not an uploadcore setting and is ignored",
    ]


def test_settings_the_client_and_other_programs_variables_are_not_warned_about() -> None:
    environ = {
        "UPLOADCORE_MAX_PARTS": "3", "UPLOADCORE_URL": "http://x", "UPLOADCORE_KEY": "k",
        "UPLOADCORE_API_KEY": "k", "UPLOADCORE_TEST_POSTGRES_URL": "postgresql://", "HOME": "/",
    }  # fmt: skip

    assert unknown_variables(environ) == []
