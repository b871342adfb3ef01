"""Control frames the hub writes as constants are the model's Structs, encoded."""

from __future__ import annotations

from ticker import codec
from ticker.hub.hub import PING_JSON
from ticker.model import ErrorFrame, Ping


def test_the_ping_constant_is_the_ping_struct() -> None:
    assert PING_JSON == codec.encode(Ping())


def test_an_error_frame_is_tagged() -> None:
    assert codec.encode(ErrorFrame(code="unknown_feed", message="no feed 'xx'")) == \
        b'{"type":"error","code":"unknown_feed","message":"no feed \'xx\'"}'
