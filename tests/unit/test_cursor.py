from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticker.cursor import Cursor


@given(epoch=st.from_regex(r"[0-9a-z]{1,32}", fullmatch=True), seq=st.integers(0, 2**62))
def test_round_trip(epoch: str, seq: int) -> None:
    cursor = Cursor(epoch, seq)
    assert Cursor.parse(str(cursor)) == cursor


@pytest.mark.parametrize("text", ["", "abc", "abc:", ":5", "ABC:5", "a:-1", "a:1.5", "a:b:c",
                                  "a:" + "9" * 20, "x" * 33 + ":1", "a\n:1", "a:1\n", "a:\u00b2",
                                  "a:\uff15"])
def test_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        Cursor.parse(text)
