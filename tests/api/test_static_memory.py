"""static/ from memory (assets.MemoryStatic): the file's own bytes (gzipped once, the same bytes decoded), the
validators a browser sends back, a file changed on disk served afresh, and nothing outside the folder."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from convscope.app import create_app
from convscope.assets import STATIC_DIR, MemoryStatic
from convscope.settings import Settings


@pytest.fixture(scope="module")
def app_client():
    with TestClient(create_app(Settings(device="cpu"))) as c:
        yield c


@pytest.mark.parametrize("name", ["js/grid.js", "css/app.css", "favicon.svg", "js/views/conv.js"])
def test_each_file_is_its_bytes_on_disk(app_client, name):
    on_disk = (STATIC_DIR / name).read_bytes()
    plain = app_client.get(f"/static/{name}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.content == on_disk and "content-encoding" not in plain.headers
    with app_client.stream("GET", f"/static/{name}?v=anything", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        if len(on_disk) >= 1024:
            assert r.headers["content-encoding"] == "gzip" and gzip.decompress(raw) == on_disk
            assert r.headers["vary"] == "Accept-Encoding"
        else:
            assert raw == on_disk
    assert plain.headers["content-type"] == r.headers["content-type"]
    assert plain.headers["content-security-policy"]  # the app's headers, as on every answer


def test_types_and_validators(app_client):
    js = app_client.get("/static/js/api.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert app_client.get("/static/css/app.css").headers["content-type"] == "text/css; charset=utf-8"
    assert app_client.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"
    again = app_client.get("/static/js/api.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == js.headers["etag"]
    assert js.headers["last-modified"].endswith("GMT")


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/js", "/static/../server/app.py",
                                  "/static/%2e%2e/pyproject.toml"])
def test_nothing_else_is_served(app_client, path):
    r = app_client.get(path)
    assert r.status_code == 404 and r.json()["ok"] is False


def test_other_methods_are_refused_in_the_envelope(app_client):
    r = app_client.post("/static/js/api.js")
    assert r.status_code == 405 and r.json()["ok"] is False


def test_a_file_changed_on_disk_is_served_afresh(tmp_path: Path):
    (tmp_path / "a.js").write_text("export const a = 1;\n" * 100)
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret")
    (tmp_path / "link.txt").symlink_to(outside)
    with TestClient(Starlette(routes=[Mount("/static", MemoryStatic(tmp_path))])) as c:
        first = c.get("/static/a.js", headers={"Accept-Encoding": "gzip"})
        assert first.text == "export const a = 1;\n" * 100
        (tmp_path / "a.js").write_text("export const a = 2;\n" * 120)
        st = os.stat(tmp_path / "a.js")
        os.utime(tmp_path / "a.js", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        second = c.get("/static/a.js", headers={"Accept-Encoding": "gzip"})
        assert second.text == "export const a = 2;\n" * 120 and second.headers["etag"] != first.headers["etag"]
        assert c.get("/static/link.txt").status_code == 404  # a link out of the folder leads nowhere
