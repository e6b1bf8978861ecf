"""libxmtp 1.10.0 as an interop peer, through PyPI `xmtp-bindings` 0.1.8 (UniFFI), run by this folder's venv.

It speaks the JSON-lines protocol of `../peer.mjs` (same op names, arguments and result shapes), so the pytest
driver (`../peer.py`) drives either peer and a test can be parametrised over both libxmtp versions. One request
per stdin line, `{"id": n, "op": "...", ...}`; one response per line on the original stdout, `{"id": n, "ok":
true, "result": ...}` or `{"id": n, "ok": false, "error": "<libxmtp error string>"}`. Requests run concurrently.

This is a test peer only: the product never imports `xmtp_bindings`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

# libxmtp's tracing writes to stdout, which carries the responses: silence it before the library loads.
os.environ.setdefault("RUST_LOG", "off")
# Anything native code still prints must not corrupt the response channel: answers go to a private copy of
# fd 1, and fd 1 itself now points at stderr.
_RESPONSES = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

from xmtp_bindings import __version__ as BINDINGS_PACKAGE_VERSION  # noqa: E402
from xmtp_bindings import xmtpv3 as x  # noqa: E402

# `can_message` returns a dict keyed by FfiIdentifier, which ships with __eq__ but no __hash__.
x.FfiIdentifier.__hash__ = lambda self: hash((self.identifier, self.identifier_kind))  # type: ignore[method-assign,assignment]

LIBXMTP_VERSION = "1.10.0"
APP_VERSION = "switchboard-interop/1"
DEFAULT_STREAM_WAIT_MS = 30_000
ALL_CONSENT = [x.FfiConsentState.UNKNOWN, x.FfiConsentState.ALLOWED, x.FfiConsentState.DENIED]
CONVERSATION_TYPE = {
    x.FfiConversationType.DM: "dm",
    x.FfiConversationType.GROUP: "group",
    x.FfiConversationType.SYNC: "sync",
    x.FfiConversationType.ONESHOT: "oneshot",
}
REACTION_ACTION = {"added": x.FfiReactionAction.ADDED, "removed": x.FfiReactionAction.REMOVED}
REACTION_SCHEMA = {
    "unicode": x.FfiReactionSchema.UNICODE,
    "shortcode": x.FfiReactionSchema.SHORTCODE,
    "custom": x.FfiReactionSchema.CUSTOM,
}
MAX_LINE = 16 * 1024 * 1024
STREAM_RETRY_DELAY = 1.0  # peer.mjs passes retryDelay: 1000 to node-sdk
STREAM_RETRIES = 60


class PeerFault(Exception):
    """A bad request (missing argument, unknown client): reported as the op's error string."""


def log(text: str) -> None:
    sys.stderr.write(f"[bindings-peer] {text}\n")
    sys.stderr.flush()


def error_text(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if isinstance(err, PeerFault | x.FfiError) else f"{type(err).__name__}: {text}"


# ---- JSON shapes: the same as peer.mjs (camelCase keys, bytes as {"hex"}, big integers as strings) ----


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def jsonable(value: Any) -> Any:
    """Records become camelCase objects, enums their lower-case names, UniFFI union variants their payload."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        # peer.mjs hands u64/i64 over as bigint strings; small numbers stay numbers there and here.
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, bytes | bytearray):
        return {"hex": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(jsonable(k)) if not isinstance(k, str) else k: jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return str(value.name).lower()
    if hasattr(value, "_values"):  # a variant of a UniFFI tagged union
        values = list(value._values)
        return jsonable(values[0]) if len(values) == 1 else jsonable(values)
    if isinstance(value, x.FfiDecodedMessage):
        return describe_decoded(value, with_reactions=False)
    if hasattr(value, "__dict__") and not hasattr(value, "_pointer"):
        # node-bindings turn a Rust None into `undefined`, which peer.mjs leaves out: do the same.
        return {camel(k): jsonable(v) for k, v in vars(value).items() if v is not None}
    return repr(value)


def content_type_string(t: Any) -> str | None:
    if t is None:
        return None
    return f"{t.authority_id}/{t.type_id}:{t.version_major}.{t.version_minor}"


def content_type_json(t: Any) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "authorityId": t.authority_id,
        "typeId": t.type_id,
        "versionMajor": t.version_major,
        "versionMinor": t.version_minor,
    }


def decoded_content(content: Any) -> Any:
    """A FfiDecodedMessageContent (or Body) in node-sdk's shape: text and markdown are plain strings."""
    if content is None:
        return None
    (payload,) = content._values
    if content.is_TEXT() or content.is_MARKDOWN():
        return payload.content
    if hasattr(content, "is_REPLY") and content.is_REPLY():
        return {
            "referenceId": payload.reference_id,
            "content": decoded_content(payload.content),
            "inReplyTo": describe_decoded(payload.in_reply_to, with_reactions=False) if payload.in_reply_to else None,
        }
    if content.is_CUSTOM():
        return {
            "parameters": dict(payload.parameters),
            "fallback": payload.fallback,
            "content": {"hex": bytes(payload.content).hex()},
        }
    return jsonable(payload)


def describe_decoded(msg: Any, *, with_reactions: bool = True) -> dict[str, Any]:
    """An enriched message (what `find_enriched_messages` lists) as peer.mjs's describeMessage."""
    t = msg.content_type_id()
    out: dict[str, Any] = {
        "id": msg.id().hex(),
        "conversationId": msg.conversation_id().hex(),
        "senderInboxId": msg.sender_inbox_id(),
        "contentType": content_type_string(t),
        "contentTypeId": content_type_json(t),
        "content": decoded_content(msg.content()),
        "fallback": msg.fallback_text(),
        "kind": jsonable(msg.kind()),
        "deliveryStatus": jsonable(msg.delivery_status()),
        "sentAtNs": str(msg.sent_at_ns()),
    }
    if with_reactions:
        out["reactions"] = [describe_decoded(r, with_reactions=False) for r in msg.reactions()]
    return out


# ---- EncodedContent (xmtp.mls.message_contents): the protobuf fields `send` with `encoded` writes ----


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_content(
    authority_id: str,
    type_id: str,
    major: int,
    minor: int,
    parameters: dict[str, str],
    fallback: str | None,
    content: bytes,
) -> bytes:
    type_bytes = (
        _field(1, authority_id.encode())
        + _field(2, type_id.encode())
        + _varint(3 << 3)
        + _varint(major)
        + _varint(4 << 3)
        + _varint(minor)
    )
    out = _field(1, type_bytes)
    for key, value in parameters.items():
        out += _field(2, _field(1, key.encode()) + _field(2, value.encode()))
    if fallback is not None:
        out += _field(3, fallback.encode())
    return out + _field(4, content)


# ---- clients ----


class Stream(x.FfiMessageCallback):
    """Receives libxmtp's stream callbacks (on libxmtp's threads) and queues them on the peer's loop."""

    def __init__(self, state: ClientState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.loop = loop

    def on_message(self, message: Any) -> None:
        self.loop.call_soon_threadsafe(self.state.arrived, message)

    def on_error(self, error: Any) -> None:
        self.loop.call_soon_threadsafe(self.state.failed, error_text(error))

    def on_close(self) -> None:
        self.loop.call_soon_threadsafe(self.state.closed, self)


class ClientState:
    def __init__(self, name: str, client: Any, setup: dict[str, Any]) -> None:
        self.name = name
        self.client = client
        self.setup = setup
        self.closer: Any = None
        self.callback: Stream | None = None
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.failures = 0
        self.restarts = 0
        self.reopening: asyncio.Task[None] | None = None

    def arrived(self, message: Any) -> None:
        # The stream hands over the bare FfiMessage; its stored, decoded form is what `messages` lists.
        try:
            described = describe_decoded(self.client.enriched_message(bytes(message.id)))
        except Exception as err:
            self.queue.put_nowait({"error": f"streamed message {bytes(message.id).hex()}: {error_text(err)}"})
            return
        self.queue.put_nowait({"message": described})

    def failed(self, error: str) -> None:
        log(f"stream error for {self.name}: {error}")
        self.queue.put_nowait({"error": error})

    def closed(self, callback: Stream) -> None:
        if callback is not self.callback:
            return  # a stream we ended ourselves, or one already replaced
        # The binding ends the stream when the node goes away and leaves reopening to the SDK; node-sdk waits
        # `retryDelay`, syncs, then resubscribes. The peer does the same, so tests see one behaviour.
        self.failures += 1
        log(f"stream failed for {self.name}")
        self.reopening = asyncio.get_running_loop().create_task(self.reopen())

    async def reopen(self) -> None:
        for attempt in range(1, STREAM_RETRIES + 1):
            await asyncio.sleep(STREAM_RETRY_DELAY)
            try:
                conversations = self.client.conversations()
                await conversations.sync_all_conversations(ALL_CONSENT)
                self.callback = Stream(self, asyncio.get_running_loop())
                self.closer = await conversations.stream_all_messages(self.callback, ALL_CONSENT)
                await self.closer.wait_for_ready()
            except Exception as err:
                log(f"stream retry {attempt}/{STREAM_RETRIES} for {self.name}: {error_text(err)}")
                continue
            self.restarts += 1
            log(f"stream restarted for {self.name}")
            return
        self.queue.put_nowait({"error": f"stream not reopened after {STREAM_RETRIES} attempts"})


clients: dict[str, ClientState] = {}
backends: dict[str, Any] = {}


def need(args: dict[str, Any], key: str) -> Any:
    value = args.get(key)
    if value is None:
        raise PeerFault(f'peer: missing argument "{key}"')
    return value


def entry(args: dict[str, Any]) -> ClientState:
    name = need(args, "name")
    state = clients.get(name)
    if state is None:
        raise PeerFault(f'peer: no client named "{name}"')
    return state


def ethereum(address: str) -> Any:
    return x.FfiIdentifier(identifier=address.lower(), identifier_kind=x.FfiIdentifierKind.ETHEREUM)


def private_key_bytes(private_key: str) -> bytes:
    raw = bytes.fromhex(private_key.removeprefix("0x"))
    if len(raw) != 32:
        raise PeerFault("peer: privateKey must be 32 bytes of hex")
    return raw


def address_of(key: bytes) -> str:
    return str(x.ethereum_address_from_pubkey(x.ethereum_generate_public_key(key))).lower()


async def backend(api_url: str) -> Any:
    # connect_to_backend is lazy: a wrong port only shows up at create_client.
    if api_url not in backends:
        secure = api_url.startswith("https://")
        backends[api_url] = await x.connect_to_backend(api_url, None, secure, None, APP_VERSION, None, None)
    return backends[api_url]


def sign(text: str, key: bytes) -> bytes:
    # True: hash with the EIP-191 personal-message prefix; 65 bytes r||s||v with v = 27/28.
    return bytes(x.ethereum_sign_recoverable(text.encode(), key, True))


async def open_client(name: str, setup: dict[str, Any]) -> ClientState:
    api = await backend(setup["apiUrl"])
    key = private_key_bytes(setup["privateKey"])
    identifier = ethereum(setup["address"])
    db = x.DbOptions(
        db=setup["dbPath"],
        encryption_key=setup["dbEncryptionKey"],
        max_db_pool_size=None,
        min_db_pool_size=None,
    )
    client = await x.create_client(
        api,
        api,
        db,
        setup["inboxId"],
        identifier,
        setup["nonce"],
        None,
        x.FfiDeviceSyncMode.DISABLED,
        None,
        None,
    )
    request = client.signature_request()
    if request is not None:
        await request.add_ecdsa_signature(sign(await request.signature_text(), key))
        await client.register_identity(request)
    state = ClientState(name, client, setup)
    clients[name] = state
    log(f"opened {name} inbox={client.inbox_id()} installation={bytes(client.installation_id()).hex()}")
    return state


def describe_client(state: ClientState) -> dict[str, Any]:
    return {
        "inboxId": state.client.inbox_id(),
        "installationId": bytes(state.client.installation_id()).hex(),
        "address": state.setup["address"],
        "privateKey": state.setup["privateKey"],
        "libxmtpVersion": LIBXMTP_VERSION,
    }


async def conversation(state: ClientState, conversation_id: str) -> Any:
    """A conversation another client created is only known after a sync, so look once more after one."""
    group_id = bytes.fromhex(conversation_id)
    try:
        return state.client.conversation(group_id)
    except x.FfiError:
        await state.client.conversations().sync()
    try:
        return state.client.conversation(group_id)
    except x.FfiError as err:
        raise PeerFault(f"peer: conversation {conversation_id} not found after conversations.sync(): {err}") from None


async def describe_conversation(convo: Any) -> dict[str, Any]:
    meta = await convo.group_metadata()
    kind = CONVERSATION_TYPE.get(meta.conversation_type(), str(meta.conversation_type()))
    members = await convo.list_members()
    return {
        "id": bytes(convo.id()).hex(),
        "type": kind,
        "name": convo.group_name() if kind == "group" else None,
        "peerInboxId": convo.dm_peer_inbox_id() if kind == "dm" else None,
        "creatorInboxId": meta.creator_inbox_id(),
        "memberInboxIds": sorted(m.inbox_id for m in members),
        "isActive": convo.is_active(),
    }


def text_content(text: str) -> Any:
    return x.FfiEncodedContent(
        type_id=x.FfiContentTypeId(authority_id="xmtp.org", type_id="text", version_major=1, version_minor=0),
        parameters={"encoding": "UTF-8"},
        fallback=None,
        compression=None,
        content=text.encode(),
    )


def list_options() -> Any:
    return x.FfiListMessagesOptions(
        sent_before_ns=None,
        sent_after_ns=None,
        limit=None,
        delivery_status=None,
        direction=None,
        content_types=None,
        exclude_content_types=None,
        exclude_sender_inbox_ids=None,
        sort_by=None,
        inserted_after_ns=None,
        inserted_before_ns=None,
    )


async def send_bytes(state: ClientState, args: dict[str, Any], payload: bytes, *, push: bool = True) -> str:
    convo = await conversation(state, need(args, "conversationId"))
    return bytes(await convo.send(payload, x.FfiSendMessageOpts(should_push=push))).hex()


def _check_content_type(text: str) -> tuple[str, str, int, int]:
    match = re.fullmatch(r"([^/]+)/([^:]+):(\d+)\.(\d+)", text)
    if not match:
        raise PeerFault(f'peer: bad content type "{text}" (want authority/type:major.minor)')
    return match[1], match[2], int(match[3]), int(match[4])


# ---- ops (same names, arguments and results as peer.mjs) ----


async def op_ping(args: dict[str, Any]) -> Any:
    return {
        "sdk": "xmtp-bindings",
        "sdkVersion": BINDINGS_PACKAGE_VERSION,
        # peer.mjs reports node-bindings' version here, which is libxmtp's.
        "bindingsVersion": LIBXMTP_VERSION,
        "libxmtpBuild": x.get_version_info(),
        "python": sys.version.split()[0],
    }


async def op_create(args: dict[str, Any]) -> Any:
    name = need(args, "name")
    api_url = need(args, "apiUrl")
    if name in clients:
        raise PeerFault(f'peer: client "{name}" already exists')
    for raw in args.get("rawContentTypes") or []:
        _check_content_type(raw)  # custom types always come back raw (CUSTOM): nothing to register
    private_key = args.get("privateKey") or "0x" + secrets.token_hex(32)
    key = private_key_bytes(private_key)
    address = address_of(key)
    api = await backend(api_url)
    identifier = ethereum(address)
    existing = await x.get_inbox_id_for_identifier(api, identifier)
    nonce = 0 if existing else secrets.randbits(63)
    db_dir = tempfile.mkdtemp(prefix="xmtp-bindings-peer-") if args.get("persist") else None
    setup = {
        "apiUrl": api_url,
        "privateKey": private_key,
        "address": address,
        "inboxId": existing or x.generate_inbox_id(identifier, nonce),
        "nonce": nonce,
        "dbDir": db_dir,
        "dbPath": os.path.join(db_dir, f"{name}.db3") if db_dir else None,
        "dbEncryptionKey": secrets.token_bytes(32) if db_dir else None,
    }
    return describe_client(await open_client(name, setup))


async def op_restart(args: dict[str, Any]) -> Any:
    state = entry(args)
    if not state.setup["dbPath"]:
        raise PeerFault(f'peer: "{args["name"]}" was not created with persist: true')
    await stop_stream(state)
    del clients[state.name]
    state.client.release_db_connection()
    return describe_client(await open_client(state.name, state.setup))


async def op_canMessage(args: dict[str, Any]) -> Any:
    state = entry(args)
    addresses = [a.lower() for a in need(args, "addresses")]
    result = await state.client.can_message([ethereum(a) for a in addresses])
    found = {k.identifier.lower(): bool(v) for k, v in result.items()}
    return {a: found.get(a, False) for a in addresses}


async def op_inboxIdByAddress(args: dict[str, Any]) -> Any:
    state = entry(args)
    return await state.client.find_inbox_id(ethereum(need(args, "address")))


async def op_inboxState(args: dict[str, Any]) -> Any:
    state = entry(args)
    inbox_id = args.get("inboxId")
    if inbox_id:
        states = await state.client.addresses_from_inbox_id(True, [inbox_id])
        if not states:
            raise PeerFault(f"peer: no inbox state for {inbox_id}")
        found = states[0]
    else:
        found = await state.client.inbox_state(True)
    return {
        "inboxId": found.inbox_id,
        "recoveryIdentifier": found.recovery_identity.identifier,
        "identifiers": [i.identifier for i in found.account_identities],
        "installationIds": [bytes(i.id).hex() for i in found.installations],
    }


async def op_addAccount(args: dict[str, Any]) -> Any:
    state = entry(args)
    private_key = args.get("privateKey") or "0x" + secrets.token_hex(32)
    new_key = private_key_bytes(private_key)
    address = address_of(new_key)
    request = await state.client.add_identity(ethereum(address))
    # The installation key signs for the inbox inside libxmtp; only the new wallet is asked for (a signature
    # from the existing wallet is refused as "Unknown signer").
    await request.add_ecdsa_signature(sign(await request.signature_text(), new_key))
    await state.client.apply_signature_request(request)
    return {"address": address, "privateKey": private_key}


async def _apply_own(state: ClientState, request: Any) -> None:
    await request.add_ecdsa_signature(
        sign(await request.signature_text(), private_key_bytes(state.setup["privateKey"]))
    )
    await state.client.apply_signature_request(request)


async def op_removeAccount(args: dict[str, Any]) -> Any:
    state = entry(args)
    await _apply_own(state, await state.client.revoke_identity(ethereum(need(args, "address"))))
    return None


async def op_changeRecoveryAddress(args: dict[str, Any]) -> Any:
    state = entry(args)
    await _apply_own(state, await state.client.change_recovery_identifier(ethereum(need(args, "address"))))
    return None


async def op_revokeInstallations(args: dict[str, Any]) -> Any:
    state = entry(args)
    ids = [bytes.fromhex(h) for h in need(args, "installationIds")]
    await _apply_own(state, await state.client.revoke_installations(ids))
    return None


async def op_createDm(args: dict[str, Any]) -> Any:
    state = entry(args)
    options = x.FfiCreateDmOptions(message_disappearing_settings=None)
    conversations = state.client.conversations()
    if args.get("peerAddress"):  # bindings-only: a DM by wallet address (peer.mjs takes an inbox id only)
        dm = await conversations.find_or_create_dm_by_identity(ethereum(args["peerAddress"]), options)
    else:
        dm = await conversations.find_or_create_dm(need(args, "peerInboxId"), options)
    return await describe_conversation(dm)


async def op_createGroup(args: dict[str, Any]) -> Any:
    state = entry(args)
    options = x.FfiCreateGroupOptions(
        permissions=None,
        group_name=args.get("groupName") or None,
        group_image_url_square=None,
        group_description=None,
        custom_permission_policy_set=None,
        message_disappearing_settings=None,
        app_data=None,
    )
    conversations = state.client.conversations()
    if args.get("memberAddresses"):  # bindings-only: members by wallet address
        group = await conversations.create_group_by_identity([ethereum(a) for a in args["memberAddresses"]], options)
    else:
        group = await conversations.create_group(list(need(args, "memberInboxIds")), options)
    return await describe_conversation(group)


async def op_send(args: dict[str, Any]) -> Any:
    state = entry(args)
    encoded = args.get("encoded")
    if encoded:
        t = need(encoded, "type")
        payload = encode_content(
            need(t, "authorityId"),
            need(t, "typeId"),
            int(t.get("versionMajor", 1)),
            int(t.get("versionMinor", 0)),
            dict(encoded.get("parameters") or {}),
            encoded.get("fallback"),
            bytes.fromhex(need(encoded, "contentHex")),
        )
        return await send_bytes(state, args, payload)
    if args.get("markdown") is not None:  # bindings-only: libxmtp 1.10's own markdown encoder
        return await send_bytes(state, args, bytes(x.encode_markdown(args["markdown"])))
    convo = await conversation(state, need(args, "conversationId"))
    return bytes(await convo.send_text(need(args, "text"))).hex()


async def op_react(args: dict[str, Any]) -> Any:
    state = entry(args)
    action = REACTION_ACTION.get(args.get("action") or "added")
    schema = REACTION_SCHEMA.get(args.get("schema") or "unicode")
    if action is None or schema is None:
        raise PeerFault("peer: action must be added/removed and schema unicode/shortcode/custom")
    payload = x.FfiReactionPayload(
        reference=need(args, "reference"),
        reference_inbox_id=args.get("referenceInboxId") or "",
        action=action,
        content=need(args, "emoji"),
        schema=schema,
    )
    return await send_bytes(state, args, bytes(x.encode_reaction(payload)), push=False)


async def op_reply(args: dict[str, Any]) -> Any:
    state = entry(args)
    reply = x.FfiReply(
        reference=need(args, "reference"),
        reference_inbox_id=args.get("referenceInboxId"),
        content=text_content(need(args, "text")),
    )
    return await send_bytes(state, args, bytes(x.encode_reply(reply)))


async def op_sync(args: dict[str, Any]) -> Any:
    state = entry(args)
    if args.get("conversationId"):
        await (await conversation(state, args["conversationId"])).sync()
    else:
        await state.client.conversations().sync()
    return None


async def op_syncAll(args: dict[str, Any]) -> Any:
    state = entry(args)
    return jsonable(await state.client.conversations().sync_all_conversations(ALL_CONSENT))


async def op_listConversations(args: dict[str, Any]) -> Any:
    state = entry(args)
    conversations = state.client.conversations()
    if args.get("sync"):
        await conversations.sync()
    options = x.FfiListConversationsOptions(
        created_after_ns=None,
        created_before_ns=None,
        last_activity_before_ns=None,
        last_activity_after_ns=None,
        order_by=None,
        limit=None,
        # Conversations others create arrive with consent UNKNOWN; node-sdk's list() shows every state too.
        consent_states=ALL_CONSENT,
        include_duplicate_dms=False,
    )
    return [await describe_conversation(item.conversation()) for item in conversations.list(options)]


async def op_describeConversation(args: dict[str, Any]) -> Any:
    state = entry(args)
    convo = await conversation(state, need(args, "conversationId"))
    if args.get("sync"):
        await convo.sync()
    return await describe_conversation(convo)


async def op_messages(args: dict[str, Any]) -> Any:
    state = entry(args)
    convo = await conversation(state, need(args, "conversationId"))
    if args.get("sync"):
        await convo.sync()
    # The enriched listing folds reactions into their target, as node-sdk's messages() does.
    return [describe_decoded(m) for m in convo.find_enriched_messages(list_options())]


async def op_streamStart(args: dict[str, Any]) -> Any:
    state = entry(args)
    if state.closer is not None:
        raise PeerFault(f'peer: "{state.name}" is already streaming')
    state.callback = Stream(state, asyncio.get_running_loop())
    state.closer = await state.client.conversations().stream_all_messages(state.callback, ALL_CONSENT)
    await state.closer.wait_for_ready()
    return None


async def op_streamNext(args: dict[str, Any]) -> Any:
    state = entry(args)
    if state.closer is None:
        raise PeerFault(f'peer: "{state.name}" is not streaming (call streamStart)')
    wait_ms = args.get("timeoutMs") or DEFAULT_STREAM_WAIT_MS
    try:
        item = await asyncio.wait_for(state.queue.get(), wait_ms / 1000)
    except TimeoutError:
        raise PeerFault(f'peer: no streamed message for "{state.name}" within {wait_ms} ms') from None
    if "error" in item:
        raise PeerFault(f"stream error: {item['error']}")
    return item["message"]


async def op_streamStatus(args: dict[str, Any]) -> Any:
    state = entry(args)
    return {
        "streaming": state.closer is not None and not state.closer.is_closed(),
        "failures": state.failures,
        "restarts": state.restarts,
        "queued": state.queue.qsize(),
    }


async def stop_stream(state: ClientState) -> None:
    if state.reopening is not None:
        state.reopening.cancel()
        state.reopening = None
    closer, state.closer, state.callback = state.closer, None, None
    if closer is not None:
        await closer.end_and_wait()
    state.queue = asyncio.Queue()


async def op_streamStop(args: dict[str, Any]) -> Any:
    await stop_stream(entry(args))
    return None


async def op_debugInfo(args: dict[str, Any]) -> Any:
    state = entry(args)
    convo = await conversation(state, need(args, "conversationId"))
    if args.get("sync"):
        await convo.sync()
    info = jsonable(await convo.conversation_debug_info())
    info["epoch"] = str(info["epoch"])  # a u64: peer.mjs gets a bigint and sends it as a decimal string
    return info


async def _group(args: dict[str, Any]) -> Any:
    return await conversation(entry(args), need(args, "conversationId"))


async def op_groupName(args: dict[str, Any]) -> Any:
    group = await _group(args)
    if args.get("sync", True):
        await group.sync()
    return group.group_name()


async def op_members(args: dict[str, Any]) -> Any:
    convo = await _group(args)
    if args.get("sync"):
        await convo.sync()
    return [
        {"inboxId": m.inbox_id, "installationIds": [bytes(i).hex() for i in m.installation_ids]}
        for m in await convo.list_members()
    ]


async def op_groupInfo(args: dict[str, Any]) -> Any:
    group = await _group(args)
    if args.get("sync", True):
        await group.sync()
    return {
        "name": group.group_name(),
        "description": group.group_description(),
        "imageUrl": group.group_image_url_square(),
        "admins": group.admin_list(),
        "superAdmins": group.super_admin_list(),
        "isActive": group.is_active(),
    }


async def op_close(args: dict[str, Any]) -> Any:
    state = entry(args)
    await stop_stream(state)
    del clients[state.name]
    if state.setup["dbDir"]:
        state.client.release_db_connection()
        shutil.rmtree(state.setup["dbDir"], ignore_errors=True)
    return None


shutting_down = asyncio.Event()


async def op_shutdown(args: dict[str, Any]) -> Any:
    asyncio.get_running_loop().call_soon(shutting_down.set)
    return None


Op = Callable[[dict[str, Any]], Awaitable[Any]]


def group_call(method: str, key: str) -> Op:
    """An op that calls one FfiConversation method with one argument and answers null."""

    async def op(args: dict[str, Any]) -> Any:
        await getattr(await _group(args), method)(need(args, key))
        return None

    return op


GROUP_CALLS = {
    "updateName": ("update_group_name", "groupName"),
    "addMembers": ("add_members", "inboxIds"),
    "removeMembers": ("remove_members", "inboxIds"),
    "addAdmin": ("add_admin", "inboxId"),
    "addSuperAdmin": ("add_super_admin", "inboxId"),
    "updateDescription": ("update_group_description", "description"),
}
OPS: dict[str, Op] = {
    **{name.removeprefix("op_"): fn for name, fn in globals().items() if name.startswith("op_") and callable(fn)},
    **{name: group_call(method, key) for name, (method, key) in GROUP_CALLS.items()},
}


# ---- the JSON-lines loop ----


def write(response: dict[str, Any]) -> None:
    _RESPONSES.write(json.dumps(response, ensure_ascii=False) + "\n")
    _RESPONSES.flush()


async def handle(line: str) -> None:
    try:
        request = json.loads(line)
    except json.JSONDecodeError:
        log(f"unparseable request line: {line[:200]!r}")
        return
    if not isinstance(request, dict):
        log("request is not a JSON object")
        return
    rid = request.pop("id", None)
    op = request.pop("op", None)
    fn = OPS.get(op) if isinstance(op, str) else None
    if fn is None:
        write({"id": rid, "ok": False, "error": f'peer: unknown op "{op}"'})
        return
    try:
        result = await fn(request)
    except Exception as err:
        log(f"op {op} (id {rid}) failed: {error_text(err)}")
        if not isinstance(err, PeerFault | x.FfiError):
            log(traceback.format_exc())
        write({"id": rid, "ok": False, "error": error_text(err)})
        return
    write({"id": rid, "ok": True, "result": result})


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    in_flight: set[asyncio.Task[None]] = set()
    log(f"ready: xmtp-bindings {BINDINGS_PACKAGE_VERSION}, libxmtp {LIBXMTP_VERSION}, python {sys.version.split()[0]}")
    stopped = asyncio.create_task(shutting_down.wait())
    while True:
        reading = asyncio.create_task(reader.readline())
        done, _ = await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stopped in done:
            reading.cancel()
            break
        line = reading.result()
        if not line:  # end of stdin: the driver is done, answer what is in flight, then leave
            break
        text = line.decode(errors="replace").strip()
        if text:
            task = asyncio.create_task(handle(text))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight, return_exceptions=True)
    for state in list(clients.values()):
        await stop_stream(state)
        if state.setup["dbDir"]:
            shutil.rmtree(state.setup["dbDir"], ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
    _RESPONSES.flush()
    # libxmtp's background threads may outlive the loop; nothing is left to flush.
    os._exit(0)
