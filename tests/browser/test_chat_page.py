"""`switchboard run`'s chat page server: the built files, `config.json` with the gRPC-web URL and the agent, the
WebAssembly with its MIME type (else browsers refuse streaming compilation), nothing outside the page's folder."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from switchboard.stack import serve_chat


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>chat</title>")
    (root / "assets" / "x.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "secret.txt").write_text("outside")
    config = {"grpcWebUrl": "http://127.0.0.1:1", "agentAddress": "0xab"}
    server: ThreadingHTTPServer = serve_chat(root, config, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, "", b""


def test_page_config_and_wasm(served: str) -> None:
    status, _, body = _get(f"{served}/")
    assert status == 200 and b"<title>chat</title>" in body
    status, kind, body = _get(f"{served}/config.json?x=1")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == {"grpcWebUrl": "http://127.0.0.1:1", "agentAddress": "0xab"}
    status, kind, _ = _get(f"{served}/assets/x.wasm")
    assert (status, kind) == (200, "application/wasm")


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"])
def test_nothing_outside_the_page_folder(served: str, path: str) -> None:
    status, _, body = _get(served + path)
    assert status == 404 and b"outside" not in body
