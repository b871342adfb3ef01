"""The desk's editorial lifecycle controls, in Chromium, against a real server: Hold, Release,
Pin/Unpin, the embargo picker with its countdown, the expiry field and the private note."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_browser_desk import open_desk
from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser


def local_time(page: Page, seconds: int) -> str:
    """What a datetime-local input holds for ``seconds`` from now, in the page's time zone."""
    value: str = page.evaluate(
        """(s) => { const d = new Date(Date.now() + s * 1000);
                    const local = new Date(d - d.getTimezoneOffset() * 60000);
                    return local.toISOString().slice(0, 19); }""",
        seconds)
    return value


def test_desk_holds_releases_pins_and_unpins(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    text = unique("Unconfirmed report of an explosion")
    page.fill("#text", text)
    page.click("#publish")
    row = page.locator("#recent li", has_text=text)
    on_air = page.locator("#live breaking-ticker li", has_text=text)
    expect(on_air).to_have_count(1)

    row.locator("button.hold").click()
    expect(row).to_have_class(re.compile(r"\bwithheld\b"))
    expect(row.locator(".meta")).to_contain_text("held")
    expect(on_air).to_have_count(0)
    expect(row.locator("button.hold")).to_have_count(0)

    row.locator("button.release").click()
    expect(row.locator("button.release")).to_have_count(0)
    expect(on_air).to_have_count(1)

    row.locator("button.pin").click()
    expect(page.locator("#live breaking-ticker .slot li", has_text=text)).to_have_count(1)
    expect(row.locator("button.unpin")).to_be_visible()
    expect(row.locator(".meta")).to_contain_text("pinned")
    row.locator("button.unpin").click()
    expect(page.locator("#live breaking-ticker .slot li")).to_have_count(0)
    expect(row.locator("button.pin")).to_be_visible()
    # holding the pinned item unpins it: released, it comes back as an ordinary item
    row.locator("button.pin").click()
    expect(row.locator("button.unpin")).to_be_visible()
    row.locator("button.hold").click()
    expect(page.locator("#live breaking-ticker .slot li")).to_have_count(0)
    row.locator("button.release").click()
    expect(on_air).to_have_count(1)
    expect(row.locator("button.pin")).to_be_visible()
    expect(row.locator(".meta")).not_to_contain_text("pinned")


def test_a_correspondent_sees_no_editor_buttons(page: Page, server: TickerServer) -> None:
    open_desk(page, server, server.token(sub="desk", role="correspondent"))
    text = unique("Filed by a correspondent")
    page.fill("#text", text)
    page.click("#publish")
    row = page.locator("#recent li", has_text=text)
    expect(row.locator("button.correct")).to_be_visible()
    expect(row.locator("button.hold, button.pin")).to_have_count(0)


def test_desk_schedules_an_embargoed_item_with_a_countdown_and_a_private_note(
        page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    text = unique("Court finds the minister guilty")
    page.fill("#text", text)
    page.click("#timing summary")
    page.fill("#embargoed_until", local_time(page, 6))
    page.fill("#note", "Embargoed: verdict read at noon")
    page.click("#publish")
    expect(page.locator("#post-status")).to_contain_text("Scheduled: goes live at")
    waiting = page.locator("#queue li", has_text=text)
    expect(waiting).to_have_count(1)
    expect(waiting.locator(".embargo .count")).to_have_text(re.compile(r"^in \d+ s$"))
    expect(waiting.locator(".note")).to_contain_text("verdict read at noon")
    expect(page.locator("#live breaking-ticker li", has_text=text)).to_have_count(0)
    # it goes live by itself; the desk moves it from the queue to the recent items
    expect(page.locator("#live breaking-ticker li", has_text=text)).to_have_count(1)
    expect(waiting).to_have_count(0)
    expect(page.locator("#recent li", has_text=text)).to_have_count(1)
    [live] = [it for it in server.latest("en") if it["text"] == text]
    assert "note" not in live
    public = server.http.get(f"/api/v1/feeds/en/items/{live['id']}").json()
    assert "note" not in public
    private = server.http.get(f"/api/v1/feeds/en/items/{live['id']}",
                              headers={"Authorization": f"Bearer {server.editor}"}).json()
    assert private["note"] == "Embargoed: verdict read at noon"


def test_desk_cancels_a_scheduled_item_and_sets_an_expiry(page: Page,
                                                         server: TickerServer) -> None:
    open_desk(page, server)
    never = unique("Result that is never announced")
    page.fill("#text", never)
    page.click("#timing summary")
    page.fill("#embargoed_until", local_time(page, 3600))
    page.click("#publish")
    waiting = page.locator("#queue li", has_text=never)
    expect(waiting.locator(".embargo .count")).to_have_text(re.compile(r"^in (59 min|1 h)"))
    waiting.locator("button.retract").click()
    expect(waiting.locator("button.retract")).to_have_text("Press again to cancel")
    waiting.locator("button.retract").click()
    expect(waiting).to_have_count(0)

    brief = unique("Road closed until the convoy passes")
    page.fill("#text", brief)
    page.fill("#expires", local_time(page, 4))
    page.click("#publish")
    expect(page.locator("#post-status")).to_have_text("Published.")
    row = page.locator("#recent li", has_text=brief)
    expect(row.locator(".expiry .count")).to_have_text(re.compile(r"^in \d+ s$"))
    on_air = page.locator("#live breaking-ticker li", has_text=brief)
    expect(on_air).to_have_count(1)
    expect(on_air).to_have_count(0)  # it expired
    # the correction form changes an expiry and the note
    later = unique("Bridge reopens")
    page.fill("#text", later)
    page.click("#publish")
    fix = page.locator("#recent li", has_text=later)
    fix.locator("button.correct").click()
    fix.locator("form.edit input[name=expires]").fill(local_time(page, 7200))
    fix.locator("form.edit textarea[name=note]").fill("checked with the police")
    fix.locator("form.edit button[type=submit]").click()
    expect(fix.locator(".expiry .count")).to_have_text(re.compile(r"^in (1 h 59 min|2 h 00 min)$"))
    expect(fix.locator(".note")).to_contain_text("checked with the police")
    [stored] = [it for it in server.latest("en") if it["text"] == later]
    private = server.http.get(f"/api/v1/feeds/en/items/{stored['id']}",
                              headers={"Authorization": f"Bearer {server.editor}"}).json()
    assert private["note"] == "checked with the police" and private["expires"]
