# One image for every Switchboard service; the command picks the service (`switchboard <service> ...`).
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY src ./src
RUN uv sync --frozen --no-dev --all-packages

FROM python:3.11-slim
RUN useradd --system --uid 10001 switchboard
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER switchboard
ENTRYPOINT ["switchboard"]
