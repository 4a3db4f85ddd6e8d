"""scripts/setup installs the torch build it promises: CPU without an NVIDIA GPU, PyPI's with one, an override."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _bin(tmp: Path, name: str, body: str) -> None:
    tool = tmp / name
    tool.write_text(f"#!/usr/bin/env bash\n{body}\n")
    tool.chmod(0o755)


def _index(tmp: Path, nvidia_smi: str | None, **env: str) -> tuple[str, str]:
    tools = tmp / "bin"
    tools.mkdir(exist_ok=True)
    if nvidia_smi is not None:
        _bin(tools, "nvidia-smi", nvidia_smi)
    base = {k: v for k, v in os.environ.items() if k != "CONVSCOPE_TORCH_INDEX"}
    proc = subprocess.run([str(ROOT / "scripts" / "torch-index")], capture_output=True, text=True, check=True,
                          env={**base, "PATH": f"{tools}:/usr/bin:/bin", **env})
    return proc.stdout.strip(), proc.stderr.strip()


@pytest.mark.skipif(Path("/proc/driver/nvidia/version").exists(), reason="this machine has an NVIDIA driver")
@pytest.mark.parametrize("nvidia_smi", [pytest.param(None, id="no-nvidia-smi"),
                                        pytest.param("exit 9", id="nvidia-smi-finds-no-gpu")])
def test_without_a_gpu_the_cpu_build(tmp_path: Path, nvidia_smi: str | None) -> None:
    assert _index(tmp_path, nvidia_smi) == (CPU_INDEX, "no NVIDIA GPU is present")


def test_with_a_gpu_pypis_cuda_build(tmp_path: Path) -> None:
    assert _index(tmp_path, 'echo "GPU 0: NVIDIA H200 (UUID: GPU-0)"') == ("pypi", "an NVIDIA GPU is present")


def test_the_override_wins(tmp_path: Path) -> None:
    cu = "https://download.pytorch.org/whl/cu126"
    assert _index(tmp_path, "exit 0", CONVSCOPE_TORCH_INDEX=cu) == (cu, "CONVSCOPE_TORCH_INDEX is set")


def _fake_checkout(tmp: Path, python_body: str) -> tuple[Path, Path]:
    """A copy of the setup scripts whose .venv/bin/python logs every call instead of installing."""
    (tmp / "scripts").mkdir()
    for name in ("setup", "torch-index"):
        shutil.copy2(ROOT / "scripts" / name, tmp / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    (tmp / ".venv" / "bin").mkdir(parents=True)
    log = tmp / "calls.log"
    _bin(tmp / ".venv" / "bin", "python", f'echo "$*" >> {log}\n{python_body}')
    return tmp, log


def test_an_unreachable_index_falls_back_to_pypi_and_says_what_it_installed(tmp_path: Path) -> None:
    checkout, log = _fake_checkout(tmp_path, 'case "$*" in *--index-url*) exit 1;; *"-c import torch"*) '
                                             'echo "2.13.0 CUDA";; esac')
    proc = subprocess.run(["bash", "scripts/setup"], cwd=checkout, capture_output=True, text=True, check=True,
                          env={**os.environ, "CONVSCOPE_TORCH_INDEX": "http://127.0.0.1:9/simple"})
    assert proc.stdout.strip().splitlines() == [
        "convscope setup: http://127.0.0.1:9/simple could not be reached; installed torch 2.13.0 CUDA build "
        "from PyPI instead."]
    calls = log.read_text().splitlines()
    assert "-m pip install -q --timeout 10 --retries 0 --index-url http://127.0.0.1:9/simple torch==2.13.0" in calls
    assert "-m pip install -q torch==2.13.0" in calls and calls[-1] == "-m pip install -q -e ."


def test_a_reachable_cpu_index_is_used_alone(tmp_path: Path) -> None:
    checkout, log = _fake_checkout(tmp_path, "exit 0")
    proc = subprocess.run(["bash", "scripts/setup"], cwd=checkout, capture_output=True, text=True, check=True,
                          env={**os.environ, "CONVSCOPE_TORCH_INDEX": CPU_INDEX})
    assert proc.stdout == ""
    calls = log.read_text().splitlines()
    assert [c for c in calls if "torch==" in c] == [
        f"-m pip install -q --timeout 10 --retries 0 --index-url {CPU_INDEX} torch==2.13.0"]
