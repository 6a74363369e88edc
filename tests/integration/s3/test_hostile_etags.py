"""Etags a client makes up, on S3: a 4xx, never a 500 (found by the security tests, issue 6).

On S3 the service checks a repeated completion against the file's etag,
computed from the etags the client sends: one that is not hexadecimal used
to reach `bytes.fromhex` and answer 500.
"""

from __future__ import annotations

import pytest
from tests.integration.http.support import Json, assert_problem
from tests.integration.s3.conftest import S3Harness

DATA = b"0123456789" * 100  # one part: S3 takes a last part of any size


def completed(api: S3Harness) -> tuple[dict[str, str], str, list[Json]]:
    alice = api.user("alice")
    body = {
        "file_name": "a.bin",
        "file_size": len(DATA),
        "file_content_type": "application/octet-stream",
        "num_parts": 1,
        "part_size": len(DATA),
    }
    started = api.client.initiate(alice, body).json()
    file_id = started["file_obj"]["id"]
    answer = api.s3.upload_part(
        Bucket=api.bucket,
        Key=f"uploadcore/{file_id}",
        UploadId=started["upload_id"],
        PartNumber=1,
        Body=DATA,
    )
    refs: list[Json] = [{"part_number": 1, "etag": answer["ETag"]}]
    done = api.client.complete(alice, file_id, refs)
    assert done.status_code == 200, done.text
    return alice, file_id, refs


@pytest.mark.parametrize("etag", ["zz-not-hex", "", "é" * 32])
def test_completing_again_with_a_made_up_etag_is_409(s3_api: S3Harness, etag: str) -> None:
    alice, file_id, refs = completed(s3_api)

    response = s3_api.client.complete(alice, file_id, [{"part_number": 1, "etag": etag}])

    assert_problem(response, 409, "invalid_state")
    again = s3_api.client.complete(alice, file_id, refs)
    assert again.status_code == 200, again.text
