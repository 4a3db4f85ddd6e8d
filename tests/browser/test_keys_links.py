"""The player's keys act on the animation whatever was clicked last, and a link carries the scrubbed frame."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from .helpers import open_view

pytestmark = pytest.mark.browser
VIEWS = ["/conv", "/transpose", "/pool", "/matrices", "/receptive-field"]
# Buttons whose own action must not be repeated by the space key; the downloads open a dialog-free save.
BUTTONS = ["[data-act=back]", "[data-act=play]", "[data-act=fwd]", "#presenter", "#export-pytorch"]


def frame_of(link):
    return parse_qs(urlparse(link).query).get("frame", [None])[0]


def pause(page):
    if page.get_attribute("#player", "data-playing") == "true":
        page.keyboard.press(" ")
    assert page.get_attribute("#player", "data-playing") == "false"


@pytest.mark.parametrize("button", BUTTONS)
def test_space_after_clicking_a_button_plays(page, live_server, button):
    open_view(page, f"{live_server}/conv?h=12&w=12&speed=0.5")
    page.click(button)
    if button == "[data-act=play]":
        page.keyboard.press(" ")  # the click started it: space pauses, and only once
        assert page.get_attribute("#player", "data-playing") == "false"
    pause(page)
    presenter = page.get_attribute("#presenter", "aria-pressed")
    frame = int(page.get_attribute("#player", "data-frame"))
    page.keyboard.press(" ")
    assert page.get_attribute("#player", "data-playing") == "true"
    assert page.get_attribute("#presenter", "aria-pressed") == presenter  # the button did not act again
    page.keyboard.press(" ")
    assert page.get_attribute("#player", "data-playing") == "false"
    assert int(page.get_attribute("#player", "data-frame")) >= frame  # no step back either


@pytest.mark.parametrize("target", ["#presenter", "#export-png", "[data-act=fwd]", "#player input[name=frame]",
                                    "#controls input[name=bias]"])
def test_arrows_step_and_p_toggles_after_a_click(page, live_server, target):
    open_view(page, f"{live_server}/conv?h=8&w=8")
    page.click(target)
    pause(page)
    frame = int(page.get_attribute("#player", "data-frame"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert int(page.get_attribute("#player", "data-frame")) == frame + 2
    page.keyboard.press("ArrowLeft")
    assert int(page.get_attribute("#player", "data-frame")) == frame + 1
    before = page.get_attribute("#presenter", "aria-pressed")
    page.keyboard.press("p")
    assert page.get_attribute("#presenter", "aria-pressed") != before
    assert page.evaluate("document.body.classList.contains('presenter')") == (before == "false")
    speed = page.input_value("#player select[name=speed]")
    page.keyboard.press("+")
    assert float(page.input_value("#player select[name=speed]")) > float(speed)


def test_typing_in_a_text_control_is_not_a_key_command(page, live_server):
    open_view(page, f"{live_server}/conv")
    page.click("#controls input[name=stride]")
    page.keyboard.press("p")
    assert page.get_attribute("#presenter", "aria-pressed") == "false"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.strip("/")) for p in VIEWS])
def test_scrubbed_frame_is_in_the_link(page, browser, live_server, path):
    open_view(page, live_server + path)
    frames = int(page.get_attribute("#player", "data-frames"))
    assert frames >= 3
    target = frames // 2
    page.locator("#player input[name=frame]").fill(str(target))  # a scrub: the slider's input event
    page.wait_for_url(lambda u: frame_of(u) == str(target))
    label = page.text_content("#player .frame-counter")
    assert label.startswith(f"{target + 1} / {frames}")
    link = page.url
    other = page.context.new_page()
    open_view(other, link)
    assert other.get_attribute("#player", "data-frame") == str(target)
    assert other.text_content("#player .frame-counter") == label
    other.close()


def test_stepping_writes_the_frame(page, live_server):
    open_view(page, f"{live_server}/pool")
    page.click("[data-act=fwd]")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda u: frame_of(u) == "2")
