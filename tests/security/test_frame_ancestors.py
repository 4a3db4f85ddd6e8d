"""frame-ancestors is configurable, so a course site can embed the pages, and cannot inject other directives."""
from __future__ import annotations

import subprocess
import sys

import pytest

from convscope.settings import Settings

from tests.live import free_port, server_env

from .conftest import COURSE, ROOT


def frame_ancestors(client) -> str:
    policy = client.get("/conv").headers["content-security-policy"]
    return next(d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors"))


def test_default_is_this_site_only(client) -> None:
    assert frame_ancestors(client) == "frame-ancestors 'self'"


@pytest.mark.parametrize(("value", "header"), [
    pytest.param(f"'self' {COURSE}", f"'self' {COURSE}", id="self-and-course"),
    pytest.param("'none'", "'none'", id="none"),
    pytest.param("https://*.example.edu", "https://*.example.edu", id="wildcard-subdomain"),
    pytest.param("https://lms.example.edu:8443/course/", "https://lms.example.edu:8443/course/", id="port-and-path"),
    pytest.param("https:", "https:", id="scheme"),
    pytest.param("  'SELF'   https://course.example.edu ", f"'self' {COURSE}", id="spaces-and-case"),
])
def test_configured_value_is_the_directive(make_client, value: str, header: str) -> None:
    assert frame_ancestors(make_client(frame_ancestors=value)) == f"frame-ancestors {header}"


def test_read_from_the_environment() -> None:
    s = Settings.from_env({"CONVSCOPE_FRAME_ANCESTORS": f"'self' {COURSE}"})
    assert s.frame_ancestors == f"'self' {COURSE}"


@pytest.mark.parametrize(("value", "why"), [
    pytest.param("'self'; script-src *", "start another", id="semicolon-directive"),
    pytest.param("'self' https://x.example;", "start another", id="trailing-semicolon"),
    pytest.param("'self'\nscript-src *", "line break", id="newline"),
    pytest.param("'self'\r\nX-Injected: 1", "line break", id="crlf-header"),
    pytest.param("'self', https://x.example", "second policy", id="comma-policy"),
    pytest.param("self", "single quotes", id="unquoted-self"),
    pytest.param("'unsafe-inline'", "no meaning in frame-ancestors", id="keyword"),
    pytest.param("'none' https://x.example", "cannot be combined", id="none-with-others"),
    pytest.param("", "empty", id="empty"),
    pytest.param("https://<script>", "is not a source", id="markup"),
    pytest.param("https://кафедра.example", "ASCII", id="non-ascii"),
])
def test_injecting_value_is_refused_with_a_sentence(value: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings(frame_ancestors=value)
    assert "CONVSCOPE_FRAME_ANCESTORS" in str(info.value) and why in str(info.value), str(info.value)


def test_server_refuses_to_start_with_an_injecting_value() -> None:
    env = server_env(CONVSCOPE_FRAME_ANCESTORS="'self'; script-src https://evil.example")
    proc = subprocess.run([sys.executable, "-m", "convscope", "--host", "127.0.0.1", "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "CONVSCOPE_FRAME_ANCESTORS=" in proc.stderr and "start another" in proc.stderr, proc.stderr[-2000:]


def test_configured_server_sends_the_value(configured_server: str) -> None:
    import httpx

    policy = httpx.get(configured_server + "/lab", timeout=30).headers["content-security-policy"]
    assert f"frame-ancestors 'self' {COURSE}" in policy
