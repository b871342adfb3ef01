"""``/oembed``: oEmbed 1.0 answers for this service's live and embed pages, and nothing else."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import lxml.html
import pytest

from tests.servers import Server, running


@pytest.fixture
def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def ask(client: httpx.Client, url: str, **params: str) -> httpx.Response:
    query = "&".join([f"url={quote(url, safe='')}", *(f"{k}={v}" for k, v in params.items())])
    return client.get(f"/oembed?{query}")


def iframe_src(answer: dict[str, object]) -> str:
    (frame,) = lxml.html.fragment_fromstring(str(answer["html"]), create_parent="div")
    assert frame.tag == "iframe" and frame.get("title")
    src: str = frame.get("src")
    return src


@pytest.mark.parametrize("page", ["live", "embed"])
def test_live_and_embed_urls_get_a_rich_answer(client: httpx.Client, server: Server,
                                               page: str) -> None:
    response = ask(client, f"{server.url}/{page}/en", format="json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["version"] == "1.0" and answer["type"] == "rich"
    assert answer["provider_url"] == f"{server.url}/"
    assert isinstance(answer["width"], int) and isinstance(answer["height"], int)
    src = iframe_src(answer)
    assert src.startswith(f"{server.url}/embed/en")
    assert client.get(src).status_code == 200


def test_embed_options_and_size_limits_are_kept(client: httpx.Client, server: Server) -> None:
    response = ask(client, f"{server.url}/embed/ar?theme=dark&max-urgency=2&evil=1",
                   maxwidth="320", maxheight="40")
    answer = response.json()
    assert answer["width"] <= 320 and answer["height"] <= 40
    src = iframe_src(answer)
    assert src.startswith(f"{server.url}/embed/ar?")
    assert "theme=dark" in src and "max-urgency=2" in src and "evil" not in src


@pytest.mark.parametrize("url", [
    "https://elsewhere.example/live/en",
    "{base}/live/nope",
    "{base}/feeds/en.atom",
    "{base}/live/en/extra",
    "{base}/",
])
def test_other_urls_are_404(client: httpx.Client, server: Server, url: str) -> None:
    assert ask(client, url.format(base=server.url)).status_code == 404


def test_xml_is_not_implemented(client: httpx.Client, server: Server) -> None:
    response = ask(client, f"{server.url}/live/en", format="xml")
    assert response.status_code == 501
    assert response.headers["content-type"] == "application/problem+json"


def test_bad_parameters_name_the_field(client: httpx.Client, server: Server) -> None:
    missing = client.get("/oembed")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["path"] == "query.url"
    bad = ask(client, f"{server.url}/live/en", maxwidth="wide")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "query.maxwidth"


def test_the_embed_page_carries_oembed_discovery(client: httpx.Client, server: Server) -> None:
    page = client.get("/embed/es")
    assert page.status_code == 200
    (href,) = lxml.html.fromstring(page.content).xpath(
        "//link[@rel='alternate'][@type='application/json+oembed']/@href")
    answer = client.get(href)
    assert answer.status_code == 200
    assert iframe_src(answer.json()).startswith(f"{server.url}/embed/es")
    again = client.get("/embed/es", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304


def test_the_configured_public_url_is_used_and_recognised() -> None:
    public = "https://news.example/ticker/"
    with running("memory", TICKER_PUBLIC_URL=public) as srv, \
            httpx.Client(base_url=srv.url, timeout=10) as client:
        for url in (f"{public}live/en", f"{srv.url}/live/en"):  # public, or the request's own
            response = ask(client, url)
            assert response.status_code == 200, url
            assert iframe_src(response.json()).startswith(f"{public}embed/en")
        page = lxml.html.fromstring(client.get("/live/en").content)
        assert page.xpath("//link[@rel='canonical']/@href") == [f"{public}live/en"]
