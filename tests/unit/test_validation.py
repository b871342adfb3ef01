from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticker.config import Limits, default_feeds
from ticker.errors import InvalidInput, MalformedJSON
from ticker.model import Filter
from ticker.validation import check_filter, decode_patch, decode_publish, query_int

FEED = default_feeds()[0]
LIMITS = Limits()


def paths(body: object) -> list[str]:
    with pytest.raises(InvalidInput) as exc:
        decode_publish(json.dumps(body).encode(), FEED, LIMITS)
    return [e.path for e in exc.value.errors]


def test_valid_body_is_cleaned() -> None:
    body = decode_publish(json.dumps({
        "text": "  Breaking\u0301  ", "source": " Reuters ", "regions": ["mena", "mena", "europe"],
    }).encode(), FEED, LIMITS)
    assert body.text == "Breaking\u0301".replace("g\u0301", "\u01f5")
    assert body.source == "Reuters" and body.regions == ["mena", "europe"] and body.urgency == 4


def test_every_failing_field_is_listed() -> None:
    assert paths({"text": "", "urgency": 99, "url": "mailto:x@y.z", "regions": [1, "x"],
                  "extra": True}) == ["$.extra", "$.text", "$.urgency", "$.regions[0]",
                                      "$.regions[1]", "$.url"]


def test_text_length_is_configurable() -> None:
    short = Limits(text_max=10)
    with pytest.raises(InvalidInput):
        decode_publish(b'{"text": "eleven char"}', FEED, short)
    assert decode_publish(b'{"text": "ten  chars"}', FEED, short).text == "ten  chars"


def test_malformed_json_is_400_not_422() -> None:
    with pytest.raises(MalformedJSON):
        decode_publish(b"{", FEED, LIMITS)


def test_patch_needs_a_field_and_accepts_null_to_clear() -> None:
    with pytest.raises(InvalidInput):
        decode_patch(b"{}", FEED, LIMITS)
    patch = decode_patch(b'{"source": null, "urgency": 1}', FEED, LIMITS)
    assert patch.source is None and patch.urgency == 1
    with pytest.raises(InvalidInput):
        decode_patch(b'{"lang": "en"}', FEED, LIMITS)


def test_filter_check_names_each_bad_entry() -> None:
    errors = check_filter(Filter(categories=["sports", "gossip"], regions=["mars"],
                                 max_urgency=0), FEED, "$.filter")
    assert [e.path for e in errors] == ["$.filter.categories[1]", "$.filter.regions[0]",
                                        "$.filter.max_urgency"]


@given(st.dictionaries(st.sampled_from(["text", "source", "urgency", "category", "regions",
                                        "url", "lang", "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=50),
                                 st.lists(st.one_of(st.text(max_size=10), st.integers()),
                                          max_size=10))))
def test_any_body_is_either_valid_or_a_clear_422(body: dict[str, object]) -> None:
    try:
        decoded = decode_publish(json.dumps(body).encode(), FEED, LIMITS)
    except InvalidInput as exc:
        assert exc.errors and all(e.path.startswith("$") and e.message for e in exc.errors)
    else:
        assert 1 <= len(decoded.text) <= LIMITS.text_max and 1 <= decoded.urgency <= 9


def test_times_are_rfc3339_with_a_zone_normalised_to_utc_milliseconds() -> None:
    body = decode_publish(json.dumps({
        "text": "x", "embargoed_until": "2999-05-01t14:00:00.123456+02:00",
        "expires": "2999-05-01T12:00:01Z", "note": "  keep an eye on it  "}).encode(),
        FEED, LIMITS)
    assert body.embargoed_until == "2999-05-01T12:00:00.123Z"
    assert body.expires == "2999-05-01T12:00:01.000Z" and body.note == "keep an eye on it"
    past_embargo = decode_publish(b'{"text": "x", "embargoed_until": "2001-01-01T00:00:00Z"}',
                                  FEED, LIMITS)
    assert past_embargo.embargoed_until == "2001-01-01T00:00:00.000Z"  # published at once


def test_bad_times_and_notes_are_each_listed() -> None:
    assert paths({"text": "x", "embargoed_until": "2999-05-01 12:00", "expires": 5,
                  "note": "n" * 501}) == ["$.embargoed_until", "$.expires", "$.note"]
    assert paths({"text": "x", "expires": "2001-01-01T00:00:00Z"}) == ["$.expires"]
    assert paths({"text": "x", "embargoed_until": "2999-01-01T00:00:00Z",
                  "expires": "2998-01-01T00:00:00Z"}) == ["$.expires"]
    assert paths({"text": "x", "expires": "1969-12-31T23:59:59Z"}) == ["$.expires"]


def test_patch_takes_note_expires_and_embargo() -> None:
    patch = decode_patch(b'{"note": null, "expires": null, "embargoed_until": '
                         b'"2999-01-01T00:00:00Z"}', FEED, LIMITS)
    assert patch.note is None and patch.expires is None
    assert patch.embargoed_until == "2999-01-01T00:00:00.000Z"


@pytest.mark.parametrize("lang", ["en\n", "ar-LB\n", "en\r\n"])
def test_a_language_tag_must_match_whole(lang: str) -> None:
    assert paths({"text": "x", "lang": lang}) == ["$.lang"]
    assert decode_publish(json.dumps({"text": "x", "lang": lang.strip()}).encode(), FEED,
                          LIMITS).lang == lang.strip()


def test_deep_nesting_is_malformed_json() -> None:
    with pytest.raises(MalformedJSON, match="nested too deeply"):
        decode_publish(b"[" * 3000 + b"]" * 3000, FEED, LIMITS)
    with pytest.raises(MalformedJSON, match="nested too deeply"):
        decode_patch(b'{"text": ' + b"[" * 3000 + b"]" * 3000 + b"}", FEED, LIMITS)


@pytest.mark.parametrize("text", ["\u00b2", "\uff15", "5\n", "9" * 5000, "-1", "", "0", "10"])
def test_query_numbers_are_ascii_digits_in_range(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        query_int({"n": text}, "n", 1, 9)
    assert [e.path for e in exc.value.errors] == ["query.n"]


def test_query_numbers_in_range_or_absent() -> None:
    assert query_int({"n": "7"}, "n", 1, 9) == 7
    assert query_int({}, "n", 1, 9) is None
