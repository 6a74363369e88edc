"""Composing uploadcore over in-memory adapters, as embedders do, for the use-case tests."""

from __future__ import annotations

from uploadcore.adapters.memory import InMemoryRepository, SequentialIds
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.bootstrap import Uploadcore, build
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.ports.blobs import BlobStore
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.signer import Signer
from uploadcore.services.records import UploadPolicy
from uploadcore.settings import Settings

SECRET = "unit-test-secret-0123456789abcdef"
BASE_URL = "http://testserver"
LINKS = HttpLinks(BASE_URL)


def compose(
    policy: UploadPolicy,
    repo: InMemoryRepository,
    blobs: BlobStore,
    clock: Clock,
    ids: IdGenerator | None = None,
    signer: Signer | None = None,
) -> Uploadcore:
    """uploadcore over these adapters, enforcing `policy`."""
    settings = Settings(
        secret_key=SECRET,
        max_file_upload_size=policy.limits.max_file_size,
        min_part_size=policy.limits.min_part_size,
        max_parts=policy.limits.max_parts,
        presigned_url_expires_in=policy.url_expires_in,
        upload_expires_in=policy.upload_expires_in,
    )
    core = build(
        settings,
        repo=repo,
        users=repo,
        blobs=blobs,
        signer=signer or ItsDangerousSigner(SECRET),
        clock=clock,
        ids=ids or SequentialIds("file"),
    )
    assert core.policy == policy, "the settings do not say what the policy does"
    return core
