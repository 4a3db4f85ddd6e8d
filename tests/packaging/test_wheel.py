"""The built wheel: `convscope` with its pages as package data, served from any directory; no `server` package."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zipfile import ZipFile

import httpx
import pytest

from ..live import ROOT, free_port, server_env, wait_healthy

PAGES = ["/", "/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/lab", "/backprop",
         "/fully-convolutional", "/equivariance", "/docs", "/api/v1/models"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(ROOT)], check=True, cwd=build, timeout=300, env=os.environ | {"TMPDIR": str(build)})
    for leftover in ("build", "convscope.egg-info"):  # setuptools builds in the source tree
        subprocess.run(["rm", "-rf", str(ROOT / leftover)], check=False)
    (path,) = out.glob("convscope-*.whl")
    return path


def test_the_wheel_holds_every_module_template_and_static_file(wheel: Path) -> None:
    names = set(ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "server", "templates", "static"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    for path in tracked:
        inside = "convscope/" + path.removeprefix("server/")
        assert inside in names, path
    assert not any(n.startswith("server/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "convscope = convscope.cli:main" in ZipFile(wheel).read(entry_points).decode()


def test_an_installed_wheel_serves_every_page_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = server_env(PYTHONPATH=str(target))
    probe = subprocess.run([sys.executable, "-c", "import convscope, importlib.util; print(convscope.__file__); "
                            "print(importlib.util.find_spec('server'))"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert probe == [str(target / "convscope" / "__init__.py"), "None"]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(port), "--log-level", "warning"],
                            cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc=proc)
        with httpx.Client(base_url=url, timeout=30) as http:
            for page in PAGES:
                assert http.get(page).status_code == 200, page
            home = http.get("/").text
            asset = home.split('href="/static/', 1)[1].split('"', 1)[0]
            assert http.get("/static/" + asset).status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)
