"""tus 1.0.0 over raw HTTP: every status the protocol names, on the same upload records."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.integration.http.support import Harness, Headers, md5_hex
from tests.integration.http.tus_support import OCTETS, TUS, create, meta, patch, tus

from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.adapters.sql.tables import parts
from uploadcore.domain.append import Appending
from uploadcore.domain.grants import UploadLimits
from uploadcore.domain.parts import multipart_etag
from uploadcore.domain.upload import Principal
from uploadcore.ports.appends import AppendAt


def test_options_advertises_version_extensions_max_size_and_checksums(api: Harness) -> None:
    response = api.client.http.options(TUS)

    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "creation-defer-length", "expiration",
        "checksum", "termination", "concatenation",
    }  # fmt: skip
    assert response.headers["tus-max-size"] == str(api.settings.max_file_upload_size)
    assert {"crc32", "md5", "sha1", "sha256"} == set(
        response.headers["tus-checksum-algorithm"].split(",")
    )


@pytest.mark.parametrize(
    ("method", "where", "override"),
    [("GET", "creation", ""), ("PUT", "upload", ""), ("PROPFIND", "upload", ""),
     ("POST", "upload", ""), ("POST", "creation", "GET")],
)  # fmt: skip
def test_a_wrong_method_is_a_tus_405_that_changes_nothing(
    api: Harness, alice: Headers, method: str, where: str, override: str
) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    extra = {"X-HTTP-Method-Override": override} if override else {}

    response = http.request(
        method, TUS if where == "creation" else path, headers=tus(alice, **extra), content=b"12"
    )

    assert response.status_code == 405
    assert response.headers["tus-resumable"] == "1.0.0"
    assert (override or method) not in response.headers["allow"].split(", ")
    assert response.json()["code"] == "method_not_allowed"
    assert http.head(path, headers=tus(alice)).headers["upload-offset"] == "0"


def test_a_crc32_checksum_is_zlibs_as_4_bytes_big_endian(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 6)
    crc = base64.b64encode(zlib.crc32(b"abc").to_bytes(4, "big")).decode()
    wrong = base64.b64encode(zlib.crc32(b"abd").to_bytes(4, "big")).decode()

    assert (
        patch(http, alice, path, 0, b"abc", **{"Upload-Checksum": f"crc32 {wrong}"}).status_code
        == 460
    )
    ok = patch(http, alice, path, 0, b"abc", **{"Upload-Checksum": f"crc32 {crc}"})
    assert ok.headers["upload-offset"] == "3"


def test_a_request_without_or_with_another_version_is_412_and_does_nothing(
    api: Harness, alice: Headers
) -> None:
    http = api.client.http
    for version in ({}, {"Tus-Resumable": "0.2.2"}):
        response = http.post(TUS, headers={**alice, **version, "Upload-Length": "3"})
        assert response.status_code == 412
        assert response.headers["tus-version"] == "1.0.0"
        assert response.headers["tus-resumable"] == "1.0.0"
    assert http.get("/v1/files/?upload_status=all", headers=alice).json()["results"] == []


def test_an_upload_in_chunks_becomes_an_ordinary_completed_file(
    api: Harness, alice: Headers
) -> None:
    http, data = api.client.http, os.urandom(3000)
    path = create(
        http,
        alice,
        len(data),
        **{"Upload-Metadata": meta(filename="a b.txt", filetype="text/plain")},
    )

    first = patch(http, alice, path, 0, data[:1000])
    assert first.status_code == 204
    assert first.headers["upload-offset"] == "1000"
    assert "upload-expires" in first.headers
    head = http.head(path, headers=tus(alice))
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "1000"
    assert head.headers["upload-length"] == "3000"
    assert head.headers["upload-metadata"] == meta(filename="a b.txt", filetype="text/plain")
    assert head.headers["cache-control"] == "no-store"
    last = patch(http, alice, path, 1000, data[1000:])
    assert last.headers["upload-offset"] == "3000"

    file_id = path.rsplit("/", 1)[1]
    file = http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert (file["file_name"], file["file_content_type"]) == ("a b.txt", "text/plain")
    assert file["upload_status"] == "completed"
    assert file["file_size"] == 3000
    # Each PATCH's bytes count as a part, as if each were one (S3-style: md5 of the md5s).
    assert file["etag"] == multipart_etag([md5_hex(data[:1000]), md5_hex(data[1000:])])
    assert api.client.download(file["url"]).content == data
    listed = http.get("/v1/files/", headers=alice).json()["results"]
    assert [f["id"] for f in listed] == [file_id]
    assert http.head(path, headers=tus(alice)).headers["upload-offset"] == "3000"


def test_creation_with_upload_takes_the_first_chunk(api: Harness, alice: Headers) -> None:
    http = api.client.http
    headers = tus(alice, **{"Upload-Length": "10", "Content-Type": OCTETS})
    response = http.post(TUS, headers=headers, content=b"hello")

    assert response.status_code == 201
    assert response.headers["upload-offset"] == "5"
    assert response.headers["location"].startswith("http://testserver/v1/tus/")


def test_a_wrong_offset_is_409_and_changes_nothing(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    patch(http, alice, path, 0, b"12345")

    response = patch(http, alice, path, 2, b"xx")

    assert response.status_code == 409
    assert response.headers["tus-resumable"] == "1.0.0"
    assert http.head(path, headers=tus(alice)).headers["upload-offset"] == "5"


def test_a_patch_of_another_content_type_is_415(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    headers = tus(alice, **{"Content-Type": "application/octet-stream", "Upload-Offset": "0"})

    response = http.patch(path, headers=headers, content=b"x")

    assert response.status_code == 415
    assert response.headers["tus-resumable"] == "1.0.0"


def test_bytes_past_the_length_are_413_and_none_of_them_kept(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 4)

    assert patch(http, alice, path, 0, b"12345").status_code == 413
    assert http.head(path, headers=tus(alice)).headers["upload-offset"] == "0"


def test_a_length_past_the_maximum_is_413_and_nothing_is_created(
    make_api: object, alice: Headers, api: Harness
) -> None:
    http = api.client.http
    too_big = str(api.settings.max_file_upload_size + 1)

    response = http.post(TUS, headers=tus(alice, **{"Upload-Length": too_big}))

    assert response.status_code == 413
    assert http.get("/v1/files/?upload_status=all", headers=alice).json()["results"] == []


def test_a_deferred_upload_is_held_to_the_maximum_at_the_first_byte_past_it(
    make_api: object, api: Harness, alice: Headers
) -> None:
    token = api.core.mint_upload_token
    assert token is not None
    minted = token(Principal("alice"), UploadLimits(max_file_size=8), timedelta(hours=1))
    holder = {"Authorization": f"Bearer {minted.token}"}
    http = api.client.http
    path = create(http, holder)

    assert patch(http, holder, path, 0, b"123456").status_code == 204
    assert patch(http, holder, path, 6, b"789").status_code == 413
    head = http.head(path, headers=tus(holder))
    assert (head.headers["upload-offset"], head.headers["upload-defer-length"]) == ("6", "1")
    done = patch(http, holder, path, 6, b"78", **{"Upload-Length": "8"})
    assert done.status_code == 204
    assert http.head(path, headers=tus(holder)).headers["upload-length"] == "8"


def test_a_checksum_mismatch_is_460_and_an_unknown_algorithm_400(
    api: Harness, alice: Headers
) -> None:
    http = api.client.http
    path = create(http, alice, 6)
    good = base64.b64encode(hashlib.sha1(b"abc", usedforsecurity=False).digest()).decode()
    bad = base64.b64encode(hashlib.sha1(b"xyz", usedforsecurity=False).digest()).decode()

    assert (
        patch(http, alice, path, 0, b"abc", **{"Upload-Checksum": f"sha1 {bad}"}).status_code == 460
    )
    assert (
        patch(http, alice, path, 0, b"abc", **{"Upload-Checksum": f"crc99 {bad}"}).status_code
        == 400
    )
    assert http.head(path, headers=tus(alice)).headers["upload-offset"] == "0"
    ok = patch(http, alice, path, 0, b"abc", **{"Upload-Checksum": f"sha1 {good}"})
    assert ok.headers["upload-offset"] == "3"


def test_auth_is_401_another_users_upload_403_an_unknown_one_404(
    api: Harness, alice: Headers, bob: Headers
) -> None:
    http = api.client.http
    path = create(http, alice, 3)

    assert http.head(path, headers=tus({})).status_code == 401
    other = http.head(path, headers=tus(bob))
    assert other.status_code == 403
    assert "upload-offset" not in other.headers
    unknown = http.head(TUS + "nope", headers=tus(alice))
    assert unknown.status_code == 404
    assert "upload-offset" not in unknown.headers
    assert patch(http, bob, path, 0, b"abc").status_code == 403


def test_termination_aborts_and_frees_the_bytes(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    patch(http, alice, path, 0, b"12345")
    file_id = path.rsplit("/", 1)[1]
    upload = api.core.get_file
    assert upload is not None

    assert http.delete(path, headers=tus(alice)).status_code == 204

    assert http.head(path, headers=tus(alice)).status_code == 404
    assert patch(http, alice, path, 5, b"6").status_code == 404
    state = http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert state["upload_status"] == "aborted"
    assert not any(api.media_root.joinpath("temp_uploads").iterdir())


def test_a_method_override_makes_a_post_a_patch(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 2)
    headers = tus(alice, **{"Content-Type": OCTETS, "Upload-Offset": "0"})

    response = http.post(
        path, headers={**headers, "X-HTTP-Method-Override": "PATCH"}, content=b"ok"
    )

    assert response.status_code == 204
    assert response.headers["upload-offset"] == "2"


def test_concatenation_assembles_partials_and_lists_only_the_final(
    api: Harness, alice: Headers
) -> None:
    http = api.client.http
    pieces = [os.urandom(700), os.urandom(300)]
    paths = []
    for piece in pieces:
        path = create(http, alice, len(piece), **{"Upload-Concat": "partial"})
        assert patch(http, alice, path, 0, piece).status_code == 204
        paths.append(path)
    final = f"final;{paths[0]} http://testserver{paths[1]}"

    response = http.post(
        TUS,
        headers=tus(alice, **{"Upload-Concat": final, "Upload-Metadata": meta(filename="joined")}),
    )

    assert response.status_code == 201
    final_path = "/v1/tus/" + response.headers["location"].rsplit("/", 1)[1]
    head = http.head(final_path, headers=tus(alice))
    assert head.headers["upload-offset"] == head.headers["upload-length"] == "1000"
    assert head.headers["upload-concat"].startswith("final;http://testserver/v1/tus/")
    assert patch(http, alice, final_path, 1000, b"x").status_code == 403
    listed = http.get("/v1/files/?upload_status=all", headers=alice).json()["results"]
    assert [f["file_name"] for f in listed] == ["joined"]
    md5s = b"".join(bytes.fromhex(md5_hex(p)) for p in pieces)
    assert listed[0]["etag"] == hashlib.md5(md5s, usedforsecurity=False).hexdigest() + "-2"
    assert api.client.download(listed[0]["url"]).content == b"".join(pieces)
    for path in paths:  # the final owns the bytes: the partials are gone, record and file
        assert http.head(path, headers=tus(alice)).status_code == 404
        assert api.core.get_file.repo.get(path.rsplit("/", 1)[1]) is None
    stored = [p for p in (api.media_root / "files").rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [listed[0]["id"]]


def test_upload_expires_slides_and_gc_aborts_an_expired_upload(
    api: Harness, alice: Headers
) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    before = patch(http, alice, path, 0, b"12").headers["upload-expires"]
    api.clock.advance(timedelta(hours=1))
    after = patch(http, alice, path, 2, b"34").headers["upload-expires"]
    assert after != before

    api.clock.advance(api.settings.upload_expires_in + timedelta(seconds=1))
    assert patch(http, alice, path, 4, b"5").status_code == 409
    age(api.media_root / "temp_uploads", api.clock.now() - 2 * api.settings.upload_expires_in)
    report = api.core.gc(timedelta(days=30)).collect()

    assert http.head(path, headers=tus(alice)).status_code == 404
    assert not any(api.media_root.joinpath("temp_uploads").iterdir()), report


def test_gc_knows_an_append_in_progress_by_its_lock(api: Harness, alice: Headers) -> None:
    http = api.client.http
    path = create(http, alice, 10)
    upload = api.core.get_file(Principal("alice"), path.rsplit("/", 1)[1])
    store = api.core.appends
    assert store is not None
    at = AppendAt(upload, Appending(), (), 10, lambda: 1)
    writer = store.append.store.open_append(at, "md5")
    try:
        held = api.core.force_abort.aborter.held(upload)
        assert held is not None
        assert held.receiving
    finally:
        writer.drop()
    held = api.core.force_abort.aborter.held(upload)
    assert held is not None
    assert not held.receiving


def age(root: Path, moment: datetime) -> None:
    """Make everything under `root` look last changed at `moment` (storage's own clock)."""
    stamp = moment.timestamp()
    for each in [root, *root.rglob("*")]:
        os.utime(each, (stamp, stamp))


def test_an_upload_tokens_limits_hold_at_creation(api: Harness) -> None:
    mint = api.core.mint_upload_token
    assert mint is not None
    api.user("alice")
    limits = UploadLimits(max_file_size=100, max_files=1, allowed_content_types=("image/*",))
    minted = mint(Principal("alice"), limits, timedelta(hours=1))
    holder = {"Authorization": f"Bearer {minted.token}"}
    http = api.client.http
    image = {"Upload-Metadata": meta(filename="a.png", filetype="image/png")}

    too_big = http.post(TUS, headers=tus(holder, **{"Upload-Length": "101"}, **image))
    assert too_big.status_code == 413
    text = {"Upload-Metadata": meta(filename="a.txt", filetype="text/plain")}
    wrong_type = http.post(TUS, headers=tus(holder, **{"Upload-Length": "1"}, **text))
    assert wrong_type.status_code == 400
    assert wrong_type.json()["code"] == "content_type_not_allowed"
    create(http, holder, 100, **image)
    second = http.post(TUS, headers=tus(holder, **{"Upload-Length": "1"}, **image))
    assert second.status_code == 403
    assert second.json()["code"] == "token_limit_reached"


def test_a_tus_upload_takes_no_parts_and_no_completion_through_the_rest_api(
    api: Harness, alice: Headers
) -> None:
    # Its bytes arrive through tus, which completes it: an empty REST part and a
    # completion beside them would make another file, and lose the appended bytes.
    http = api.client.http
    path = create(http, alice)
    file_id = path.rsplit("/", 1)[1]
    assert patch(http, alice, path, 0, b"appended").status_code == 204

    refresh = http.post(f"/v1/files/uploads/{file_id}/presigned-urls/", headers=alice)
    complete = api.client.complete(alice, file_id, [{"part_number": 1, "etag": md5_hex(b"")}])

    assert refresh.status_code == 409, refresh.text
    assert complete.status_code == 409, complete.text
    assert "tus" in complete.json()["detail"]
    assert http.head(path, headers=tus(alice)).headers["Upload-Offset"] == "8"
    assert api.client.state(alice, file_id).json()["upload_status"] == "uploading"


def test_an_upload_whose_appends_were_not_recorded_as_parts_is_hashed_once_at_the_end(
    api: Harness, alice: Headers
) -> None:
    http, data = api.client.http, os.urandom(3000)
    path = create(http, alice, len(data))
    assert patch(http, alice, path, 0, data[:1000]).status_code == 204
    repo = api.core.get_file.repo
    assert isinstance(repo, SqlAlchemyRepository)
    with repo.engine.begin() as connection:  # as appended before appends were parts
        connection.execute(parts.delete())

    assert patch(http, alice, path, 1000, data[1000:]).status_code == 204

    file = http.get(f"/v1/files/{path.rsplit('/', 1)[1]}/", headers=alice).json()
    assert file["etag"] == multipart_etag([md5_hex(data)])
    assert api.client.download(file["url"]).content == data
