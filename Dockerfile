# One image for every Switchboard service; the command picks it (`switchboard ingest|crypto|router|publisher|devnode`).
# The virtualenv is built from uv.lock (frozen, no dev tools) in a throwaway stage; the runtime stage holds only
# the venv, the sources it points at and the generated protobuf code (committed under libs/xmtp_core/src).

FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY src ./src
RUN uv sync --frozen --no-dev --all-packages --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin switchboard
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# The router imports agents from the working directory (`--app examples.echo:agent`), as uvicorn imports apps.
COPY examples ./examples
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SB_HEALTH_PORT=8081
USER 10001
EXPOSE 8081
# Liveness of the service's own health endpoint (xmtp_core.health); devnode has none: compose checks its port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SB_HEALTH_PORT'], timeout=2).status != 200)"]
ENTRYPOINT ["switchboard"]
CMD ["--help"]
