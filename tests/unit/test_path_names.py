"""Which names the local disk adapters let become path components."""

from __future__ import annotations

import pytest

from uploadcore.adapters.names import is_plain_name, safe_name


@pytest.mark.parametrize(
    "name", ["0123456789abcdef0123456789abcdef", "uc_AbC-9", "a", "00001", "-_-"]
)
def test_hex_and_url_safe_names_are_plain(name: str) -> None:
    assert is_plain_name(name)
    assert safe_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "../x", "a.b", "a b", "a\x00b", "é", "٣", "\uff41", "name\n", ".gc-1"],
)
def test_anything_else_never_becomes_a_path(name: str) -> None:
    assert not is_plain_name(name)
    with pytest.raises(ValueError, match="not a safe staging name"):
        safe_name(name, "staging name")
