"""Async driver for the libxmtp peers: spawns one, correlates JSON-line requests.

Two peers speak the same protocol: libxmtp 1.9.1 through `@xmtp/node-sdk` 5.5.0 (`peer.mjs`, the default) and
libxmtp 1.10.0 through PyPI `xmtp-bindings` 0.1.8 (`bindings/peer_bindings.py`, run by `bindings/.venv`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INTEROP_DIR = Path(__file__).resolve().parent
PEER_SCRIPT = INTEROP_DIR / "peer.mjs"
NODE_MODULES = INTEROP_DIR / "node_modules"
BINDINGS_DIR = INTEROP_DIR / "bindings"
BINDINGS_SCRIPT = BINDINGS_DIR / "peer_bindings.py"
BINDINGS_PYTHON = BINDINGS_DIR / ".venv" / "bin" / "python"
NODE_SDK_VERSION = "1.9.1"
BINDINGS_VERSION = "1.10.0"
LIBXMTP_VERSIONS = (NODE_SDK_VERSION, BINDINGS_VERSION)
DEFAULT_TIMEOUT = 90.0
STDERR_TAIL_LINES = 60
# Responses can carry whole message lists; asyncio's default 64 KiB line limit is too small for that.
STREAM_LIMIT = 16 * 1024 * 1024

log = logging.getLogger("interop.peer")


class PeerError(Exception):
    """The peer answered `ok: false`; `.error` is the libxmtp (or peer) error string, verbatim."""

    def __init__(self, op: str, error: str, stderr_tail: str) -> None:
        self.op = op
        self.error = error
        self.stderr_tail = stderr_tail
        super().__init__(f"libxmtp peer op {op!r} failed: {error}\n--- peer stderr (tail) ---\n{stderr_tail}")


class PeerTimeout(Exception):
    """The peer did not answer a request in time."""


class PeerDied(Exception):
    """The node process exited while requests were outstanding."""


@dataclass(frozen=True)
class PeerClient:
    """One libxmtp client (installation) held by the peer under `name`."""

    name: str
    inbox_id: str
    installation_id: str
    address: str
    private_key: str


def node_modules_missing_message() -> str | None:
    """Why the peer cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH; the libxmtp interop peer needs Node 20+"
    if not (NODE_MODULES / "@xmtp" / "node-sdk").is_dir():
        return f"{NODE_MODULES} is missing @xmtp/node-sdk: run `make interop-deps` first"
    return None


def bindings_missing_message() -> str | None:
    """Why the libxmtp 1.10 peer cannot run here, or None when it can."""
    if not BINDINGS_PYTHON.is_file():
        return f"{BINDINGS_PYTHON} is missing: run `make interop-bindings` first"
    return None


def peer_missing_message(version: str) -> str | None:
    """Why the peer of libxmtp `version` cannot run here, or None when it can."""
    if version == NODE_SDK_VERSION:
        return node_modules_missing_message()
    if version == BINDINGS_VERSION:
        return bindings_missing_message()
    return f"no interop peer for libxmtp {version!r} (have {', '.join(LIBXMTP_VERSIONS)})"


class LibxmtpPeer:
    """A running peer of libxmtp `version`; every method maps to one peer op and raises PeerError on failure."""

    def __init__(self, *, version: str = NODE_SDK_VERSION, default_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.version = version
        self.default_timeout = default_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> LibxmtpPeer:
        problem = peer_missing_message(self.version)
        if problem:
            raise RuntimeError(problem)
        if self.version == BINDINGS_VERSION:
            # libxmtp's tracing goes to stdout; the peer also moves fd 1 away from its responses.
            command = [str(BINDINGS_PYTHON), str(BINDINGS_SCRIPT)]
            env = {**os.environ, "RUST_LOG": os.environ.get("XMTP_PEER_RUST_LOG", "off"), "PYTHONUNBUFFERED": "1"}
            cwd = BINDINGS_DIR
        else:
            command = ["node", str(PEER_SCRIPT)]
            env = {**os.environ, "NODE_NO_WARNINGS": "1"}
            cwd = INTEROP_DIR
        self._proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=str(cwd),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=STREAM_LIMIT,
        )
        self._readers = [
            asyncio.create_task(self._read_stdout(), name="peer-stdout"),
            asyncio.create_task(self._read_stderr(), name="peer-stderr"),
        ]
        await self.request("ping")
        return self

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def request(self, op: str, *, within: float | None = None, **args: Any) -> Any:
        """Sends one op and waits up to `within` seconds (default: the driver default) for its answer."""
        __tracebackhide__ = True  # a failing test should point at its own line, not at this plumbing
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise PeerDied(f"libxmtp peer is not running (op {op!r})\n{self.stderr_tail}")
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        proc.stdin.write((json.dumps({"id": rid, "op": op, **args}) + "\n").encode())
        await proc.stdin.drain()
        limit = self.default_timeout if within is None else within
        try:
            response = await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise PeerTimeout(
                f"libxmtp peer op {op!r} got no answer in {limit:.0f}s\n--- peer stderr (tail) ---\n{self.stderr_tail}"
            ) from None
        finally:
            self._pending.pop(rid, None)
        if not response.get("ok"):
            raise PeerError(op, str(response.get("error")), self.stderr_tail)
        return response.get("result")

    async def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while line := await proc.stdout.readline():
            self._dispatch(line.decode(errors="replace").strip())
        code = await proc.wait()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(
                    PeerDied(f"libxmtp peer exited with {code}\n--- peer stderr (tail) ---\n{self.stderr_tail}")
                )

    def _dispatch(self, text: str) -> None:
        try:
            response = json.loads(text)
        except json.JSONDecodeError:
            response = None
        # libxmtp's own logger may print to stdout; anything that is not a response is just a log line.
        if not isinstance(response, dict) or "id" not in response:
            self._note(f"[stdout] {text}")
            return
        future = self._pending.get(response["id"])
        if future is not None and not future.done():
            future.set_result(response)

    async def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        while line := await proc.stderr.readline():
            self._note(line.decode(errors="replace").rstrip())

    def _note(self, text: str) -> None:
        self._stderr_tail.append(text)
        log.debug("%s", text)

    # ---- typed wrappers around the ops ----

    async def create(
        self,
        name: str,
        api_url: str,
        *,
        private_key: str | None = None,
        raw_content_types: list[str] | None = None,
        persist: bool = False,
    ) -> PeerClient:
        """Registers a new installation (in-memory db unless `persist`, which allows `restart`).

        `raw_content_types` ("authority/type:1.0") are decoded as their raw parameters/content."""
        args: dict[str, Any] = {
            "name": name,
            "apiUrl": api_url,
            "rawContentTypes": raw_content_types or [],
            "persist": persist,
        }
        if private_key is not None:
            args["privateKey"] = private_key
        return self._client(name, await self.request("create", **args))

    async def restart(self, name: str) -> PeerClient:
        """Drops `name` and reopens its database, as a restarted app would (needs `persist=True`)."""
        return self._client(name, await self.request("restart", name=name))

    @staticmethod
    def _client(name: str, result: dict[str, Any]) -> PeerClient:
        return PeerClient(
            name=name,
            inbox_id=result["inboxId"],
            installation_id=result["installationId"],
            address=result["address"],
            private_key=result["privateKey"],
        )

    async def can_message(self, name: str, addresses: list[str]) -> dict[str, bool]:
        result: dict[str, bool] = await self.request("canMessage", name=name, addresses=addresses)
        return result

    async def inbox_id_by_address(self, name: str, address: str) -> str | None:
        result: str | None = await self.request("inboxIdByAddress", name=name, address=address)
        return result

    async def inbox_state(self, name: str, inbox_id: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("inboxState", name=name, inboxId=inbox_id)
        return result

    async def add_account(self, name: str, private_key: str | None = None) -> tuple[str, str]:
        """Associates a new (or given) wallet with `name`'s inbox; returns (address, private key).

        Removing a wallet, revoking an installation and changing recovery are signed by the client's own
        wallet, which libxmtp only accepts while that wallet is the inbox's recovery address."""
        result = await self.request("addAccount", name=name, privateKey=private_key)
        return result["address"], result["privateKey"]

    async def remove_account(self, name: str, address: str) -> None:
        await self.request("removeAccount", name=name, address=address)

    async def change_recovery_address(self, name: str, address: str) -> None:
        await self.request("changeRecoveryAddress", name=name, address=address)

    async def revoke_installations(self, name: str, installation_ids: list[str]) -> None:
        await self.request("revokeInstallations", name=name, installationIds=installation_ids)

    async def create_dm(self, name: str, peer_inbox_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("createDm", name=name, peerInboxId=peer_inbox_id)
        return result

    async def create_dm_by_address(self, name: str, peer_address: str) -> dict[str, Any]:
        """libxmtp 1.10 peer only: a DM with whoever holds the wallet `peer_address`."""
        result: dict[str, Any] = await self.request("createDm", name=name, peerAddress=peer_address)
        return result

    async def create_group(
        self,
        name: str,
        member_inbox_ids: list[str],
        group_name: str | None = None,
        *,
        member_addresses: list[str] | None = None,
    ) -> dict[str, Any]:
        """A group with `member_inbox_ids` (or, libxmtp 1.10 peer only, the holders of `member_addresses`)."""
        args: dict[str, Any] = {"memberInboxIds": member_inbox_ids, "groupName": group_name}
        if member_addresses is not None:
            args["memberAddresses"] = member_addresses
        result: dict[str, Any] = await self.request("createGroup", name=name, **args)
        return result

    async def send_text(self, name: str, conversation_id: str, text: str) -> str:
        message_id: str = await self.request("send", name=name, conversationId=conversation_id, text=text)
        return message_id

    async def send_markdown(self, name: str, conversation_id: str, markdown: str) -> str:
        """libxmtp 1.10 peer only: markdown encoded by libxmtp's own codec."""
        message_id: str = await self.request("send", name=name, conversationId=conversation_id, markdown=markdown)
        return message_id

    async def send_encoded(
        self,
        name: str,
        conversation_id: str,
        *,
        authority_id: str,
        type_id: str,
        content: bytes,
        version_major: int = 1,
        version_minor: int = 0,
        parameters: dict[str, str] | None = None,
        fallback: str | None = None,
    ) -> str:
        encoded = {
            "type": {
                "authorityId": authority_id,
                "typeId": type_id,
                "versionMajor": version_major,
                "versionMinor": version_minor,
            },
            "parameters": parameters or {},
            "fallback": fallback,
            "contentHex": content.hex(),
        }
        message_id: str = await self.request("send", name=name, conversationId=conversation_id, encoded=encoded)
        return message_id

    async def react(
        self, name: str, conversation_id: str, reference: str, emoji: str, *, reference_inbox_id: str | None = None
    ) -> str:
        message_id: str = await self.request(
            "react",
            name=name,
            conversationId=conversation_id,
            reference=reference,
            emoji=emoji,
            referenceInboxId=reference_inbox_id,
        )
        return message_id

    async def reply(
        self, name: str, conversation_id: str, reference: str, text: str, *, reference_inbox_id: str | None = None
    ) -> str:
        message_id: str = await self.request(
            "reply",
            name=name,
            conversationId=conversation_id,
            reference=reference,
            text=text,
            referenceInboxId=reference_inbox_id,
        )
        return message_id

    async def sync(self, name: str, conversation_id: str | None = None) -> None:
        await self.request("sync", name=name, conversationId=conversation_id)

    async def sync_all(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("syncAll", name=name)
        return result

    async def list_conversations(self, name: str, *, sync: bool = True) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("listConversations", name=name, sync=sync)
        return result

    async def describe_conversation(self, name: str, conversation_id: str, *, sync: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "describeConversation", name=name, conversationId=conversation_id, sync=sync
        )
        return result

    async def messages(self, name: str, conversation_id: str, *, sync: bool = True) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request(
            "messages", name=name, conversationId=conversation_id, sync=sync
        )
        return result

    async def stream_start(self, name: str) -> None:
        await self.request("streamStart", name=name)

    async def stream_next(self, name: str, *, wait: float = 30.0) -> dict[str, Any]:
        """The next message `name`'s stream delivered, waiting up to `wait` seconds for one."""
        result: dict[str, Any] = await self.request(
            "streamNext", name=name, timeoutMs=int(wait * 1000), within=wait + 15
        )
        return result

    async def stream_status(self, name: str) -> dict[str, Any]:
        """{"streaming", "failures", "restarts", "queued"} for `name`'s message stream."""
        result: dict[str, Any] = await self.request("streamStatus", name=name)
        return result

    async def wait_stream_restarted(self, name: str, restarts: int = 1, *, wait: float = 60.0) -> None:
        """Waits until the SDK has reopened `name`'s stream `restarts` times (after a node outage)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (status := await self.stream_status(name))["restarts"] < restarts:
            if loop.time() > deadline:
                raise PeerTimeout(f"{name}: stream not restarted within {wait:.0f}s: {status}\n{self.stderr_tail}")
            await asyncio.sleep(0.2)

    async def stream_until(
        self, name: str, accept: Callable[[dict[str, Any]], bool], *, wait: float = 30.0, max_skipped: int = 50
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Reads the stream until `accept` matches; returns the match and what was skipped on the way."""
        skipped: list[dict[str, Any]] = []
        while len(skipped) <= max_skipped:
            message = await self.stream_next(name, wait=wait)
            if accept(message):
                return message, skipped
            skipped.append(message)
        raise AssertionError(f"{name}: no matching streamed message among {len(skipped)}: {skipped}")

    async def debug_info(self, name: str, conversation_id: str, *, sync: bool = True) -> dict[str, Any]:
        """libxmtp's view of the group's epoch, cursors and commit logs (local and remote)."""
        result: dict[str, Any] = await self.request("debugInfo", name=name, conversationId=conversation_id, sync=sync)
        return result

    async def update_name(self, name: str, conversation_id: str, group_name: str) -> None:
        await self.request("updateName", name=name, conversationId=conversation_id, groupName=group_name)

    async def group_name(self, name: str, conversation_id: str, *, sync: bool = True) -> str:
        result: str = await self.request("groupName", name=name, conversationId=conversation_id, sync=sync)
        return result

    async def members(self, name: str, conversation_id: str, *, sync: bool = True) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request(
            "members", name=name, conversationId=conversation_id, sync=sync
        )
        return result

    async def add_members(self, name: str, conversation_id: str, inbox_ids: list[str]) -> None:
        await self.request("addMembers", name=name, conversationId=conversation_id, inboxIds=inbox_ids)

    async def remove_members(self, name: str, conversation_id: str, inbox_ids: list[str]) -> None:
        await self.request("removeMembers", name=name, conversationId=conversation_id, inboxIds=inbox_ids)

    async def add_admin(self, name: str, conversation_id: str, inbox_id: str) -> None:
        await self.request("addAdmin", name=name, conversationId=conversation_id, inboxId=inbox_id)

    async def add_super_admin(self, name: str, conversation_id: str, inbox_id: str) -> None:
        await self.request("addSuperAdmin", name=name, conversationId=conversation_id, inboxId=inbox_id)

    async def update_description(self, name: str, conversation_id: str, description: str) -> None:
        await self.request("updateDescription", name=name, conversationId=conversation_id, description=description)

    async def group_info(self, name: str, conversation_id: str, *, sync: bool = True) -> dict[str, Any]:
        """name, description, imageUrl, admins, superAdmins, isActive (after a sync unless told not to)."""
        result: dict[str, Any] = await self.request("groupInfo", name=name, conversationId=conversation_id, sync=sync)
        return result

    async def close_client(self, name: str) -> None:
        await self.request("close", name=name)


def is_text(message: dict[str, Any], text: str | None = None) -> bool:
    """True for an xmtp.org/text message (with exactly `text`, when given)."""
    if not str(message.get("contentType", "")).startswith("xmtp.org/text:"):
        return False
    return text is None or message.get("content") == text
