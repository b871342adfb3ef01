"""Which origins and addresses outbound requests may reach (``ticker.outbound.rules``)."""

from __future__ import annotations

import pytest

from ticker.outbound.rules import AddressRules, OriginList, OriginPattern, Refused, origin_of


def refused(call: object, *args: str) -> str:
    with pytest.raises(Refused) as info:
        call(*args)  # type: ignore[operator]
    return info.value.reason


def test_origins_compare_scheme_host_and_port() -> None:
    services = OriginList(["https://push.example", "https://*.notify.example",
                           "http://127.0.0.1:8080"])
    assert str(services.check("https://push.example/x/y")) == "https://push.example"
    assert services.check("HTTPS://Push.Example:443/x").host == "push.example"
    assert services.check("https://wns2-1.notify.example/w").host == "wns2-1.notify.example"
    assert services.check("http://127.0.0.1:8080/p").port == 8080
    for url in ("http://push.example/x", "https://push.example:8443/x",
                "https://notify.example/x", "https://evilnotify.example/x",
                "https://push.example.evil/x", "http://127.0.0.1:8081/p",
                "https://127.0.0.1:8080/p"):
        assert refused(services.check, url) == "origin", url
    for url in ("ftp://push.example/x", "javascript:alert(1)", "https:///x",
                "https://user:pw@push.example/x", "https://push.example:99999/x"):
        assert refused(services.check, url) == "scheme", url


def test_origin_patterns_refuse_paths_and_garbage() -> None:
    assert OriginPattern.parse("https://*.a.example").host == "*.a.example"
    assert OriginPattern.parse("https://a.example/").port == 443
    for text in ("https://a.example/path", "a.example", "ftp://a.example", "https://"):
        with pytest.raises(ValueError):
            OriginPattern.parse(text)
    assert str(origin_of("http://[::1]:81/x")) == "http://[::1]:81"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1",
    "ff02::1", "192.0.2.1", "::"])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused(AddressRules().check, address) == "address"


def test_public_addresses_pass_and_listed_networks_are_allowed() -> None:
    rules = AddressRules(["127.0.0.1", "10.0.0.0/8"])
    assert str(rules.check("8.8.8.8")) == "8.8.8.8"
    assert str(rules.check("2606:4700:4700::1111")) == "2606:4700:4700::1111"
    assert str(rules.check("127.0.0.1")) == "127.0.0.1"
    assert str(rules.check("::ffff:10.9.9.9")) == "::ffff:a09:909"
    assert refused(rules.check, "127.0.0.2") == "address"
    with pytest.raises(ValueError, match="not-a-net"):
        AddressRules(["not-a-net"])
