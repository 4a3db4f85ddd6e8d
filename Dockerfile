# convscope in a container: CPU by default; `--build-arg VARIANT=cuda` for PyTorch's CUDA build.
#   docker build -t convscope .
#   docker run --rm -p 8000:8000 convscope
FROM python:3.11-slim-bookworm

# cpu: torch from PyTorch's CPU wheel index (small); cuda: torch from PyPI, whose Linux wheels bundle CUDA.
ARG VARIANT=cpu
# Another wheel index for torch, e.g. https://download.pytorch.org/whl/cu128; overrides VARIANT's choice.
ARG TORCH_INDEX=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=4 \
    CONVSCOPE_TORCH_THREADS=1

WORKDIR /app

# A numeric non-root user, so that an orchestrator's runAsNonRoot check can verify it.
RUN groupadd --gid 10001 convscope \
    && useradd --uid 10001 --gid 10001 --create-home --no-log-init convscope

# torch first, pinned as in pyproject.toml: a bare or ranged torch would pull whatever build the index has.
RUN set -eu; \
    case "$VARIANT" in \
      cpu) index="https://download.pytorch.org/whl/cpu" ;; \
      cuda) index="https://pypi.org/simple" ;; \
      *) echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 1 ;; \
    esac; \
    pip install --no-cache-dir --index-url "${TORCH_INDEX:-$index}" "torch==2.13.0"

# The other dependencies, read from pyproject.toml alone, so this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(d for d in deps if not d.replace(' ', '').startswith('torch')))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The source last: editing it rebuilds only these layers. Installed as the `convscope` package (pages
# included as package data), owned by root, so the server cannot rewrite itself.
COPY README.md ./
COPY server ./server
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir --no-deps . && rm -rf build ./*.egg-info

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).close()"]

# WEB_CONCURRENCY worker processes; each holds its own torch and image cache.
CMD ["sh", "-c", "exec python -m convscope --host 0.0.0.0 --port 8000 --workers \"${WEB_CONCURRENCY}\""]
