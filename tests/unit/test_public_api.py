"""`import uploadcore` is the library's front door: a complete `__all__`, and a light import."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from types import ModuleType

import pytest

import uploadcore
import uploadcore.domain
import uploadcore.ports
import uploadcore.services

CORE_PACKAGES = [uploadcore.domain, uploadcore.ports, uploadcore.services]
# The frameworks the core must not pull in (pyproject's "core knows no frameworks").
HEAVY = ["sqlalchemy", "boto3", "botocore", "starlette", "itsdangerous", "alembic", "click"]


def public_definitions(package: ModuleType) -> set[str]:
    """Classes and functions a package offers under a public name."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }


def test_all_is_sorted_without_duplicates() -> None:
    assert uploadcore.__all__ == sorted(set(uploadcore.__all__))


@pytest.mark.parametrize("name", uploadcore.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    value = getattr(uploadcore, name)

    assert value is not None
    assert name in dir(uploadcore)


@pytest.mark.parametrize("package", CORE_PACKAGES, ids=lambda p: p.__name__)
def test_every_public_class_and_function_of_the_core_is_in_all(package: ModuleType) -> None:
    exported = set(getattr(package, "__all__", ()))

    assert public_definitions(package) <= set(uploadcore.__all__)
    assert exported <= set(uploadcore.__all__)
    assert public_definitions(package) <= exported


@pytest.mark.parametrize("package", CORE_PACKAGES, ids=lambda p: p.__name__)
def test_the_top_level_names_are_the_core_objects_themselves(package: ModuleType) -> None:
    for name in package.__all__:
        assert getattr(uploadcore, name) is getattr(package, name)


@pytest.mark.parametrize(
    "name",
    ["CompleteUpload", "PartPlan", "Upload", "UploadStatus", "BlobStore", "UploadcoreError"],
)
def test_the_main_building_blocks_are_exported(name: str) -> None:
    assert name in uploadcore.__all__


@pytest.mark.parametrize(
    "name",
    [
        "InMemoryRepository",
        "InMemoryBlobStore",
        "FakeClock",
        "SequentialIds",
        "build",
        "HttpLinks",
        "create_app",
        "Settings",
    ],
)
def test_the_adapters_and_entry_points_an_embedder_needs_are_exported(name: str) -> None:
    assert name in uploadcore.__all__
    assert callable(getattr(uploadcore, name))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        getattr(uploadcore, "NoSuchThing")  # noqa: B009 - the dynamic lookup is the point


def test_import_uploadcore_loads_no_framework() -> None:
    code = (
        "import json, sys, uploadcore\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout) == []


def test_a_lazy_name_loads_its_framework_only_when_asked_for() -> None:
    code = (
        "import json, sys, uploadcore\n"
        "uploadcore.ItsDangerousSigner\n"
        "print(json.dumps(['itsdangerous' in sys.modules, 'sqlalchemy' in sys.modules]))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout) == [True, False]
