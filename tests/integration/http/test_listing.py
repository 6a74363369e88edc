"""GET /v1/files/: whose files, which filters, and keyset pages that stay stable."""

from __future__ import annotations

import itertools
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from tests.integration.http.support import Harness, Headers, Json, assert_problem, error_fields

from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.listing import CURSOR_PURPOSE

_ids = itertools.count(1)


def seed(
    api: Harness,
    owner: str,
    count: int = 1,
    *,
    status: UploadStatus = UploadStatus.COMPLETED,
    parent: tuple[str, str] | None = None,
    content_type: str = "application/octet-stream",
    step: timedelta = timedelta(milliseconds=1),
) -> list[str]:
    """Store `count` files straight in the repository (listing needs records, not bytes).

    The clock moves by `step` after every other file, so some share a timestamp
    and the order must fall back on the id. Returns their ids, oldest first.
    """
    made = []
    for n in range(count):
        now = api.clock.now()
        file_id = f"seeded-{next(_ids):06d}"
        api.core.complete.repo.add(
            Upload(
                id=file_id, upload_id=f"up-{file_id}", storage_key=f"files/{file_id}",
                owner=owner, file_name=f"{file_id}.bin", file_content_type=content_type,
                plan=PartPlan(10, 1, 10), status=status, created=now, modified=now,
                expires_at=now + timedelta(days=1),
                etag="0" * 32 + "-1" if status is UploadStatus.COMPLETED else None,
                parent_content_type=parent[0] if parent else None,
                parent_object_id=parent[1] if parent else None,
            )
        )  # fmt: skip
        made.append(file_id)
        if n % 2:
            api.clock.advance(step)
    api.clock.advance(step)
    return made


def listing(api: Harness, headers: Headers, query: str = "") -> httpx2.Response:
    return api.client.http.get(f"/v1/files/{query}", headers=headers)


def ids(response: httpx2.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert set(body) == {"results", "next"}
    return [f["id"] for f in body["results"]]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# -- whose files, which ones ------------------------------------------------------


def test_a_user_lists_their_completed_files_newest_first(
    api: Harness, alice: Headers, bob: Headers
) -> None:
    mine = seed(api, "alice", 5)
    seed(api, "bob", 2)
    seed(api, "alice", 1, status=UploadStatus.UPLOADING)

    assert ids(listing(api, alice)) == mine[::-1]


def test_a_listing_shows_the_file_representation_with_fetchable_urls(
    api: Harness, alice: Headers
) -> None:
    file = api.client.upload(alice, b"listed bytes")

    [listed] = listing(api, alice).json()["results"]

    assert {k: v for k, v in listed.items() if k != "url"} == {
        k: v for k, v in file.items() if k != "url"
    }
    assert api.client.download(listed["url"]).content == b"listed bytes"


@pytest.mark.parametrize("status", ["pending", "uploading", "completed", "failed", "aborted"])
def test_upload_status_picks_one_status(api: Harness, alice: Headers, status: str) -> None:
    made = {s: seed(api, "alice", 2, status=s) for s in UploadStatus}

    assert ids(listing(api, alice, f"?upload_status={status}")) == made[UploadStatus(status)][::-1]


def test_upload_status_all_lists_every_status(api: Harness, alice: Headers) -> None:
    made = [i for s in UploadStatus for i in seed(api, "alice", 2, status=s)]

    assert ids(listing(api, alice, "?upload_status=all")) == made[::-1]


def test_an_unknown_upload_status_is_400(api: Harness, alice: Headers) -> None:
    assert error_fields(listing(api, alice, "?upload_status=done")) == {"upload_status"}


def test_the_parent_filter_needs_both_halves(api: Harness, alice: Headers) -> None:
    post = seed(api, "alice", 2, parent=("blog.post", "42"))
    seed(api, "alice", 2, parent=("blog.post", "43"))
    seed(api, "alice", 2)

    found = listing(api, alice, "?parent_content_type=blog.post&parent_object_id=42")

    assert ids(found) == post[::-1]
    assert error_fields(listing(api, alice, "?parent_content_type=blog.post")) == {
        "parent_object_id"
    }
    assert error_fields(listing(api, alice, "?parent_object_id=42")) == {"parent_content_type"}


def test_file_content_type_filters_by_the_exact_type(api: Harness, alice: Headers) -> None:
    pictures = seed(api, "alice", 3, content_type="image/png")
    seed(api, "alice", 3, content_type="video/mp4")

    assert ids(listing(api, alice, "?file_content_type=image%2Fpng")) == pictures[::-1]


def test_an_admin_lists_every_file_or_narrows_to_one_owner(
    api: Harness, admin: Headers, alice: Headers
) -> None:
    alices = seed(api, "alice", 2)
    bobs = seed(api, "bob", 2)

    assert ids(listing(api, admin)) == (alices + bobs)[::-1]
    assert ids(listing(api, admin, "?owner=bob")) == bobs[::-1]
    assert ids(listing(api, admin, "?owner=nobody")) == []


def test_a_user_naming_another_owner_is_403_and_themself_is_fine(
    api: Harness, alice: Headers
) -> None:
    mine = seed(api, "alice", 2)

    assert_problem(listing(api, alice, "?owner=bob"), 403, "forbidden")
    assert ids(listing(api, alice, "?owner=alice")) == mine[::-1]


def test_listing_needs_an_api_key(api: Harness) -> None:
    assert_problem(listing(api, {}), 401, "not_authenticated")


# -- bad queries -------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", "", "99999999999"])
def test_a_limit_outside_1_to_1000_is_400(api: Harness, alice: Headers, limit: str) -> None:
    assert error_fields(listing(api, alice, f"?limit={limit}")) == {"limit"}


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_limits_1_and_1000_are_accepted(api: Harness, alice: Headers, limit: str) -> None:
    assert listing(api, alice, f"?limit={limit}").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [("?status=all", "status"), ("?limit=5&limit=6", "limit"), ("?owner=", "owner")],
)
def test_unknown_repeated_or_empty_parameters_are_400(
    api: Harness, alice: Headers, query: str, field: str
) -> None:
    assert error_fields(listing(api, alice, query)) == {field}


def test_every_bad_parameter_is_named_at_once(api: Harness, alice: Headers) -> None:
    query = "?limit=0&upload_status=done&parent_content_type=blog.post&colour=red&owner="

    assert error_fields(listing(api, alice, query)) == {
        "limit",
        "upload_status",
        "parent_object_id",  # the other half of the parent filter
        "colour",
        "owner",
    }


# -- pages -------------------------------------------------------------------------


def test_next_keeps_the_filters_and_the_limit(api: Harness, alice: Headers) -> None:
    seed(api, "alice", 3, parent=("blog.post", "7"), content_type="image/png")
    query = (
        "?upload_status=completed&parent_content_type=blog.post&parent_object_id=7"
        "&file_content_type=image%2Fpng&limit=2"
    )

    first = listing(api, alice, query).json()

    assert first["next"].startswith("http://testserver/v1/files/?")
    params = query_of(first["next"])
    assert {k: v for k, v in params.items() if k != "cursor"} == {
        "upload_status": ["completed"],
        "parent_content_type": ["blog.post"],
        "parent_object_id": ["7"],
        "file_content_type": ["image/png"],
        "limit": ["2"],
    }
    second = api.client.http.get(first["next"], headers=alice).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_the_last_page_has_no_next(api: Harness, alice: Headers) -> None:
    seed(api, "alice", 4)

    assert listing(api, alice, "?limit=4").json()["next"] is None
    assert listing(api, alice, "?limit=5").json()["next"] is None
    assert listing(api, alice, "?limit=3").json()["next"] is not None


def test_pages_of_250_files_visit_each_once_while_new_files_arrive(
    api: Harness, alice: Headers
) -> None:
    existing = seed(api, "alice", 250)
    seen: list[str] = []
    url: str | None = "/v1/files/?limit=50"
    pages = 0
    while url is not None:
        page = api.client.http.get(url, headers=alice).json()
        seen += [f["id"] for f in page["results"]]
        url = page["next"]
        pages += 1
        seed(api, "alice", 7)  # new files arrive between pages (newer than any listed)

    assert pages == 5
    assert len(seen) == len(set(seen)) == 250
    assert seen == existing[::-1]


def test_files_arriving_with_the_same_timestamp_as_the_cursor_do_not_shift_pages(
    api: Harness, alice: Headers
) -> None:
    # Every file shares one timestamp: the order rests on the id alone.
    existing = seed(api, "alice", 10, step=timedelta(0))

    first = listing(api, alice, "?limit=4").json()
    seed(api, "alice", 3, step=timedelta(0))
    rest = []
    url = first["next"]
    while url is not None:
        page = api.client.http.get(url, headers=alice).json()
        rest += [f["id"] for f in page["results"]]
        url = page["next"]

    assert [f["id"] for f in first["results"]] + rest == existing[::-1]


def test_a_cursor_from_one_user_is_useless_to_another(
    api: Harness, alice: Headers, bob: Headers
) -> None:
    seed(api, "alice", 3)
    seed(api, "bob", 3)
    cursor = query_of(listing(api, alice, "?limit=1").json()["next"])["cursor"][0]

    response = listing(api, bob, f"?limit=1&cursor={cursor}")

    assert error_fields(response) == {"cursor"}
    assert "another user" in response.json()["detail"]


def test_a_cursor_from_an_admin_is_useless_to_a_user_listing_the_same_files(
    api: Harness, admin: Headers, alice: Headers
) -> None:
    seed(api, "alice", 3)
    cursor = query_of(listing(api, admin, "?owner=alice&limit=1").json()["next"])["cursor"][0]

    assert error_fields(listing(api, alice, f"?limit=1&cursor={cursor}")) == {"cursor"}


def test_a_cursor_is_useless_with_other_filters(api: Harness, alice: Headers) -> None:
    seed(api, "alice", 3)
    cursor = query_of(listing(api, alice, "?limit=1").json()["next"])["cursor"][0]

    response = listing(api, alice, f"?limit=1&upload_status=all&cursor={cursor}")

    assert error_fields(response) == {"cursor"}


def test_a_cursor_may_be_used_with_another_limit(api: Harness, alice: Headers) -> None:
    made = seed(api, "alice", 5)
    cursor = query_of(listing(api, alice, "?limit=1").json()["next"])["cursor"][0]

    assert ids(listing(api, alice, f"?limit=10&cursor={cursor}")) == made[::-1][1:]


@pytest.mark.parametrize("cursor", ["garbage", "eyJhIjoxfQ.AAAA", "A" * 1025])
def test_a_cursor_the_service_did_not_issue_is_400(
    api: Harness, alice: Headers, cursor: str
) -> None:
    assert error_fields(listing(api, alice, f"?cursor={cursor}")) == {"cursor"}


def test_a_tampered_cursor_is_400(api: Harness, alice: Headers) -> None:
    seed(api, "alice", 3)
    cursor = query_of(listing(api, alice, "?limit=1").json()["next"])["cursor"][0]
    tampered = cursor[:4] + ("A" if cursor[4] != "A" else "B") + cursor[5:]

    assert error_fields(listing(api, alice, f"?cursor={tampered}")) == {"cursor"}


def test_a_cursor_signed_with_another_key_is_400(api: Harness, alice: Headers) -> None:
    forged = ItsDangerousSigner("another-secret-key-that-is-long-enough").sign(
        TokenClaims(CURSOR_PURPOSE, "seeded-999999", "0" * 32, 0, 2**40)
    )

    assert error_fields(listing(api, alice, f"?cursor={forged}")) == {"cursor"}
