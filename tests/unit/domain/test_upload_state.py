"""The upload state machine, the Upload aggregate's checks and the metadata checks."""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadcore.domain.errors import InvalidInput, InvalidState, NotOwner, UploadExpired
from uploadcore.domain.metadata import check_content_type, check_file_name, check_text
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Principal, Upload, UploadStatus, check_transition

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
# SPEC section 1, copied from its diagram.
ALLOWED = {
    (PENDING, UPLOADING),
    (PENDING, ABORTED),
    (UPLOADING, COMPLETED),
    (UPLOADING, FAILED),
    (UPLOADING, ABORTED),
}
TERMINALS = [COMPLETED, FAILED, ABORTED]
ALL_PAIRS = list(itertools.product(UploadStatus, UploadStatus))
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def make_upload(status: UploadStatus = UPLOADING, owner: str = "alice") -> Upload:
    return Upload(
        id="file1",
        upload_id="up1",
        storage_key="files/file1",
        owner=owner,
        file_name="video.mp4",
        file_content_type="video/mp4",
        plan=PartPlan(10, 1, 10),
        status=status,
        created=NOW,
        modified=NOW,
        expires_at=NOW + timedelta(hours=24),
    )


# -- transitions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in ALL_PAIRS if pair in ALLOWED],
    ids=str,
)
def test_an_allowed_transition_passes(current: UploadStatus, target: UploadStatus) -> None:
    check_transition(current, target)

    assert make_upload(current).with_status(target, NOW).status is target


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in ALL_PAIRS if pair not in ALLOWED],
    ids=str,
)
def test_every_other_transition_is_an_invalid_state_naming_both_statuses(
    current: UploadStatus, target: UploadStatus
) -> None:
    with pytest.raises(InvalidState) as raised:
        check_transition(current, target)

    assert str(current) in str(raised.value)
    assert str(target) in str(raised.value)


def test_exactly_five_transitions_are_allowed() -> None:
    allowed = set()
    for current, target in ALL_PAIRS:
        try:
            check_transition(current, target)
        except InvalidState:
            continue
        allowed.add((current, target))

    assert allowed == ALLOWED


@pytest.mark.parametrize("terminal", TERMINALS, ids=str)
def test_a_terminal_state_is_final(terminal: UploadStatus) -> None:
    upload = make_upload(terminal)

    for target in UploadStatus:
        with pytest.raises(InvalidState):
            upload.with_status(target, NOW + timedelta(seconds=1))
    assert terminal.is_terminal


@pytest.mark.parametrize("status", [PENDING, UPLOADING], ids=str)
def test_pending_and_uploading_are_not_terminal(status: UploadStatus) -> None:
    assert not status.is_terminal


def test_with_status_stamps_the_time_and_keeps_the_etag_unless_given() -> None:
    later = NOW + timedelta(minutes=5)

    completed = make_upload().with_status(COMPLETED, later, etag="abc-2")

    assert (completed.status, completed.modified, completed.etag) == (COMPLETED, later, "abc-2")
    assert make_upload().with_status(ABORTED, later).etag is None


def test_statuses_are_their_lower_case_names() -> None:
    assert [str(s) for s in UploadStatus] == [
        "pending",
        "uploading",
        "completed",
        "failed",
        "aborted",
    ]


# -- accepting parts and expiry ----------------------------------------------


def test_an_uploading_upload_accepts_parts_until_it_expires() -> None:
    upload = make_upload()

    upload.check_accepts_parts(upload.expires_at - timedelta(microseconds=1))

    assert not upload.is_expired(upload.expires_at - timedelta(microseconds=1))


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=30)])
def test_an_uploading_upload_past_its_expiry_is_expired(after: timedelta) -> None:
    upload = make_upload()
    now = upload.expires_at + after

    with pytest.raises(UploadExpired) as raised:
        upload.check_accepts_parts(now)
    assert upload.is_expired(now)
    assert upload.id in str(raised.value)


@pytest.mark.parametrize("status", [PENDING, *TERMINALS], ids=str)
def test_an_upload_that_is_not_uploading_accepts_no_parts(status: UploadStatus) -> None:
    with pytest.raises(InvalidState) as raised:
        make_upload(status).check_accepts_parts(NOW)

    assert not isinstance(raised.value, UploadExpired)
    assert str(status) in str(raised.value)


@pytest.mark.parametrize("status", TERMINALS, ids=str)
def test_a_terminal_upload_never_expires(status: UploadStatus) -> None:
    assert not make_upload(status).is_expired(NOW + timedelta(days=365))


def test_a_pending_upload_expires_like_an_uploading_one() -> None:
    upload = make_upload(PENDING)

    assert upload.is_expired(upload.expires_at)
    assert not upload.is_expired(upload.expires_at - timedelta(seconds=1))


# -- access ------------------------------------------------------------------


def test_the_owner_may_act_on_the_upload() -> None:
    upload = make_upload(owner="alice")

    upload.check_access(Principal("alice"))

    assert upload.owner == "alice"


def test_another_user_may_not_act_on_the_upload() -> None:
    upload = make_upload(owner="alice")

    with pytest.raises(NotOwner) as raised:
        upload.check_access(Principal("bob"))
    assert upload.id in str(raised.value)


def test_an_admin_may_act_on_every_upload() -> None:
    upload = make_upload(owner="alice")

    upload.check_access(Principal("root", is_admin=True))

    assert Principal("root", is_admin=True).is_admin


def test_ownership_compares_whole_names() -> None:
    with pytest.raises(NotOwner):
        make_upload(owner="alice").check_access(Principal("Alice"))
    with pytest.raises(NotOwner):
        make_upload(owner="alice").check_access(Principal("alic"))


def test_file_size_is_the_plans() -> None:
    upload = replace(make_upload(), plan=PartPlan(12, 2, 6))

    assert upload.file_size == 12


# -- file names --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "large-video.mp4",
        "x" * 255,
        "résumé (final).pdf",
        "日本語のファイル.txt",
        "🎉" * 255,
        "👩\u200d💻 notes.md",
        "...",
        ".hidden",
        "name with spaces",
        'quote " and semicolon ;.txt',
        "photos/2024/a.jpg",
        "back\\slash.txt",
    ],
)
def test_a_display_name_is_accepted_as_given(name: str) -> None:
    assert check_file_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 256, "🎉" * 256])
def test_a_file_name_must_be_1_to_255_characters(name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_file_name(name)

    assert str(len(name)) in str(raised.value)
    assert [e.field for e in raised.value.errors] == ["file_name"]


@pytest.mark.parametrize(
    "char", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\x9f"], ids=repr
)
def test_a_file_name_with_a_control_character_is_rejected_naming_it(char: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_file_name(f"report{char}.pdf")

    assert f"U+{ord(char):04X}" in str(raised.value)


@pytest.mark.parametrize(
    "char",
    ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"],
    ids=repr,
)
def test_a_file_name_with_a_bidi_override_or_isolate_is_rejected(char: str) -> None:
    # "invoice\u202efdp.exe" displays as "invoiceexe.pdf".
    with pytest.raises(InvalidInput):
        check_file_name(f"invoice{char}fdp.exe")


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u061c"], ids=repr)
def test_a_file_name_with_a_line_separator_or_arabic_letter_mark_is_rejected(char: str) -> None:
    with pytest.raises(InvalidInput):
        check_file_name(f"two{char}lines.txt")


def test_a_file_name_with_a_lone_surrogate_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        check_file_name("bad\ud800name")


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        ("\x07", "a control character"),
        ("\ud800", "a lone surrogate"),
        ("\u2028", "a line separator"),
        ("\u2029", "a paragraph separator"),
        ("\u202e", "a bidirectional control"),
    ],
    ids=repr,
)
def test_the_refusal_names_the_character_and_what_it_is(char: str, kind: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_text("parent_object_id", f"a{char}b")

    assert raised.value.detail == (f"parent_object_id: must not contain U+{ord(char):04X} ({kind})")


@pytest.mark.parametrize(
    "name", ["a/b", "/etc/passwd", "../secret", "dir\\file", "C:\\x", ".", "..", " .. ", "/"]
)
def test_a_file_name_that_looks_like_a_path_is_a_display_name_kept_as_given(name: str) -> None:
    # Names never choose where bytes are stored, so slashes and dots are only characters.
    assert check_file_name(name) == name


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _is_plain(ch: str) -> bool:
    """Not a control character, a surrogate, a line separator or a bidi control."""
    return unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp") and ch not in BIDI_CONTROLS


@given(
    st.text(st.characters().filter(_is_plain) | st.sampled_from("/\\."), min_size=1, max_size=255)
)
def test_any_short_name_of_plain_characters_is_accepted_as_given(name: str) -> None:
    assert check_file_name(name) == name


@given(
    st.text(max_size=100),
    st.characters(categories=["Cc"]),
    st.text(max_size=100),
)
def test_any_name_containing_a_control_character_is_rejected(
    before: str, control: str, after: str
) -> None:
    with pytest.raises(InvalidInput):
        check_file_name(before + control + after)


def test_other_text_fields_report_their_own_field_name() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_text("parent_content_type", "")

    assert [e.field for e in raised.value.errors] == ["parent_content_type"]
    assert check_text("parent_object_id", "42") == "42"


# -- content types -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "application/octet-stream",
        "video/mp4",
        "image/svg+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain; charset=utf-8",
        "text/plain;charset=UTF-8",
        'multipart/mixed; boundary="a b c"',
        "application/x-www-form-urlencoded",
    ],
)
def test_a_mime_type_is_accepted_as_given(value: str) -> None:
    assert check_content_type(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "text",
        "text/",
        "/plain",
        "text/plain/extra",
        "text plain",
        "text/ plain",
        "text/plain\r\nX-Injected: 1",
        "text/plain; charset",
        "video/mp4\x00",
        "a" * 200 + "/" + "b" * 100,
    ],
    ids=repr,
)
def test_anything_else_is_not_a_content_type(value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_content_type(value)

    assert [e.field for e in raised.value.errors] == ["file_content_type"]


def test_a_content_type_error_can_name_another_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_content_type("nope", field="content_type")

    assert [e.field for e in raised.value.errors] == ["content_type"]
