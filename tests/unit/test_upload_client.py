"""The upload client's pieces without a server: plans, retries, error messages, URL refresh."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from uploadcore.entrypoints.client.api import Api, ApiError, ClientError, Stopped, problem_of
from uploadcore.entrypoints.client.parts import MiB, Plan, md5_of, read_part
from uploadcore.entrypoints.client.progress import BarProgress, rate_text, sent_text
from uploadcore.entrypoints.client.retry import RetryPolicy, is_transient, retry_after
from uploadcore.entrypoints.client.uploader import in_parallel
from uploadcore.entrypoints.client.urls import PartUrls

NO_WAIT = RetryPolicy(attempts=4, base=0, cap=0)

Handler = Callable[[httpx2.Request], httpx2.Response]


def api_answering(*answers: httpx2.Response | Exception, policy: RetryPolicy = NO_WAIT) -> Api:
    """An Api whose server gives these answers in turn (an exception: the connection fails)."""
    queue = list(answers)

    def handle(request: httpx2.Request) -> httpx2.Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx2.Client(transport=httpx2.MockTransport(handle))
    return Api("http://uploads.test/", "uc_key", http, policy)


@pytest.fixture
def closing() -> Iterator[list[Api]]:
    made: list[Api] = []
    yield made
    for api in made:
        api.http.close()


def problem(status: int, code: str, detail: str) -> httpx2.Response:
    return httpx2.Response(status, json={"status": status, "code": code, "detail": detail})


# -- plans -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "part_size", "expected"),
    [
        (0, None, Plan(0, 1, 1)),
        (1, None, Plan(1, 1, 1)),
        (8 * MiB, None, Plan(8 * MiB, 1, 8 * MiB)),
        (8 * MiB + 1, None, Plan(8 * MiB + 1, 2, 8 * MiB)),
        (100 * 1024 * MiB, None, Plan(100 * 1024 * MiB, 9_310, 11 * MiB)),
        (10_000, 4096, Plan(10_000, 3, 4096)),
        (4096, 4096, Plan(4096, 1, 4096)),
    ],
)
def test_a_plan_covers_the_file_in_at_most_10000_parts(
    size: int, part_size: int | None, expected: Plan
) -> None:
    plan = Plan.for_file(size, part_size)

    assert plan == expected
    assert plan.num_parts <= 10_000
    assert sum(plan.size_of(n) for n in plan.numbers) == size
    ends = [plan.offset_of(n) + plan.size_of(n) for n in plan.numbers]
    assert ends == [plan.offset_of(n + 1) for n in plan.numbers[:-1]] + [size]


def test_a_part_is_read_in_chunks_of_exactly_its_range(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 10_000)
    counted: list[int] = []

    chunks = list(read_part(path, 1000, 2 * MiB + 5, counted.append))

    assert b"".join(chunks) == path.read_bytes()[1000 : 1000 + 2 * MiB + 5]
    assert max(len(c) for c in chunks) <= MiB
    assert sum(counted) == 2 * MiB + 5
    assert md5_of(path, 0, 0) == "d41d8cd98f00b204e9800998ecf8427e"


def test_a_file_that_got_shorter_is_an_error_not_a_short_part(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)

    with pytest.raises(ClientError, match="got shorter"):
        list(read_part(path, 50, 100))


def test_a_stopped_upload_stops_reading_at_once(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    stop = threading.Event()
    stop.set()

    with pytest.raises(Stopped):
        list(read_part(path, 0, 100, stop=stop))


# -- retries ------------------------------------------------------------------------------


def test_connection_errors_5xx_and_429_are_tried_again(closing: list[Api]) -> None:
    api = api_answering(
        httpx2.ConnectError("refused"),
        httpx2.Response(503),
        httpx2.Response(429, headers={"Retry-After": "0"}),
        httpx2.Response(201, json={"file_obj": {"id": "f1"}}),
    )
    closing.append(api)

    assert api.initiate({}) == {"file_obj": {"id": "f1"}}


def test_a_client_error_is_not_tried_again_and_names_the_server_s_reason(
    closing: list[Api],
) -> None:
    api = api_answering(problem(400, "part_plan_mismatch", "part_size 100 is below 5 MiB"))
    closing.append(api)

    with pytest.raises(ApiError) as raised:
        api.initiate({})

    assert raised.value.status == 400
    assert raised.value.detail == (
        "could not start the upload: part_size 100 is below 5 MiB (HTTP 400, part_plan_mismatch)"
    )


def test_giving_up_says_how_often_and_the_last_reason(closing: list[Api]) -> None:
    api = api_answering(*[httpx2.Response(502, text="bad gateway")] * 4)
    closing.append(api)

    with pytest.raises(ClientError, match=r"after 4 tries: HTTP 502: bad gateway"):
        api.state("f1")


def test_a_url_no_retry_fixes_fails_at_once(closing: list[Api]) -> None:
    api = api_answering(httpx2.UnsupportedProtocol("no scheme"))
    closing.append(api)

    with pytest.raises(ClientError, match="UnsupportedProtocol"):
        api.state("f1")


def test_a_stopped_api_tries_nothing_more(closing: list[Api]) -> None:
    api = api_answering(httpx2.Response(503))
    closing.append(api)
    api.stop.set()

    with pytest.raises(Stopped):
        api.state("f1")


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (503, True),
    (504, True), (429, True), (408, True), (501, False), (507, False), (400, False),
    (403, False), (404, False), (409, False)])  # fmt: skip
def test_which_answers_are_transient(status: int, transient: bool) -> None:
    assert is_transient(httpx2.Response(status)) is transient


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(attempts=10, base=0.5, cap=4.0)

    for attempt in range(10):
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= min(4.0, 0.5 * 2**attempt) for d in delays)
    assert policy.delay(3, retry_after=2.5) == 2.5
    assert policy.delay(3, retry_after=3600) == 4.0


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    later = "Wed, 21 Oct 2026 07:28:07 GMT"

    assert retry_after(httpx2.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after(httpx2.Response(503, headers={"Retry-After": later, "Date": date})) == 7.0
    assert retry_after(httpx2.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx2.Response(503)) is None


# -- error messages -------------------------------------------------------------------------


def test_an_s3_error_answer_is_read_from_its_xml() -> None:
    body = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"

    assert problem_of(httpx2.Response(403, text=body)) == (
        403,
        "AccessDenied",
        "Request has expired",
    )


def test_an_answer_of_unknown_shape_still_makes_one_line() -> None:
    status, code, detail = problem_of(httpx2.Response(500, text="line one\nline two"))

    assert (status, code, detail) == (500, None, "line one line two")


# -- part URLs --------------------------------------------------------------------------------


class FakeApi:
    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def refresh_urls(self, file_id: str, numbers: list[int]) -> dict[str, object]:
        self.asked.append(numbers)
        generation = len(self.asked)
        return {
            "presigned_urls": [{"part_number": n, "url": f"u{n}-{generation}"} for n in numbers],
            "expires_in": 400,
        }


def test_urls_about_to_expire_are_refreshed_for_every_part_still_to_send() -> None:
    api, now = FakeApi(), [0.0]
    first = {"presigned_urls": [{"part_number": n, "url": f"u{n}-0"} for n in (1, 2, 3)],
             "expires_in": 400}  # fmt: skip
    urls = PartUrls(api, "f1", first, [1, 2, 3], clock=lambda: now[0])  # type: ignore[arg-type]

    assert urls.url_for(1) == "u1-0"
    urls.done(1)
    now[0] = 339.0  # not yet within the margin (60 s) of the expiry
    assert urls.url_for(2) == "u2-0"
    now[0] = 341.0
    assert urls.url_for(2) == "u2-1"
    assert api.asked == [[2, 3]]
    assert urls.url_for(3) == "u3-1"
    urls.refresh(3)
    assert urls.url_for(3) == "u3-2"
    assert api.asked == [[2, 3], [3]]


# -- the part workers --------------------------------------------------------------------


def test_part_workers_leave_ctrl_c_to_the_main_thread() -> None:
    """Python runs signal handlers in the main thread only: a SIGINT the kernel handed to a
    worker waiting for an answer would leave the main thread waiting for the parts."""

    def blocked_signals(number: int) -> str:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        return ",".join(sorted(signal.Signals(s).name for s in mask))

    results = dict(in_parallel(blocked_signals, [1, 2, 3], 2, threading.Event()))

    assert set(results) == {1, 2, 3}
    for mask in results.values():
        assert {"SIGINT", "SIGTERM"} <= set(mask.split(","))
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


# -- the progress bar -----------------------------------------------------------------------


def test_the_bar_speaks_mib_and_mib_per_second() -> None:
    assert sent_text(3 * MiB // 2, 12 * MiB) == "1.5/12.0 MiB"
    assert sent_text(0, 512) == "0.0/0.0 MiB"
    assert rate_text(5 * MiB / 2) == "2.5 MiB/s"
    assert rate_text(None) == "? MiB/s"


def test_bytes_a_resumed_upload_finds_on_the_server_fill_the_bar_but_not_its_rate() -> None:
    bar = BarProgress("video.bin", total=12 * MiB, done=8 * MiB)
    task = bar._bar.tasks[0]

    assert task.completed == 8 * MiB
    assert task.speed is None  # nothing was sent in this run yet
    bar.advance(MiB)
    assert task.completed == 9 * MiB
    assert sum(sample.completed for sample in task._progress) == MiB
