"""Joining from Welcomes: unwrap (direct X25519 / X-Wing, or a Welcome pointer plus its pointee), join the MLS
group, and run libxmtp's joiner checks (DM shape, tree vs membership vs identity states) before accepting it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.engine.conversation import conversation_info, leaf_inbox_id
from xmtp_core.engine.errors import Rejected, RejectReason
from xmtp_core.engine.events import ConversationJoined
from xmtp_core.engine.identity import IdentityResolver, installation_states
from xmtp_core.engine.installation import InstallationKeys
from xmtp_core.envelopes import WelcomeKind, WelcomeMessage
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import LifetimeError, LimitError, MLSError
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group import Group
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import decrypt_group_info, decrypt_group_secrets
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.xmtp_mls.constants import MAX_GROUP_LEAVES, MAX_GROUP_SIZE
from xmtp_core.xmtp_mls.errors import XmtpMlsError
from xmtp_core.xmtp_mls.extensions import parse_group_extensions
from xmtp_core.xmtp_mls.join_checks import check_initial_membership, leaf_identities, validate_dm
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle
from xmtp_core.xmtp_mls.welcome_wrapper import (
    UnwrappedWelcome,
    WelcomePointer,
    WrapperAlgorithm,
    decrypt_pointee,
    unwrap_welcome,
    unwrap_welcome_pointer,
    wrapper_algorithm_from_wire,
)


@dataclass(frozen=True)
class Joined:
    """A group joined from a Welcome: the group, its event, and the key package it used up."""

    group: Group
    event: ConversationJoined
    key_package_ref: bytes


def _reject(msg: WelcomeMessage, reason: RejectReason, detail: str) -> Rejected:
    return Rejected(reason, f"welcome {msg.id}: {detail}")


def _check_size(msg: WelcomeMessage, data: bytes, what: str) -> None:
    if len(data) > MAX_MESSAGE_BYTES:
        detail = f"{what} of {len(data)} bytes, XMTP's cap is {MAX_MESSAGE_BYTES}"
        raise _reject(msg, RejectReason.TOO_LARGE, detail)


def _candidates(msg: WelcomeMessage, bundles: Sequence[KeyPackageBundle]) -> list[KeyPackageBundle]:
    """Bundles whose wrapper key the sender named first; the rest after (some senders leave the key empty)."""
    named = [b for b in bundles if msg.hpke_public_key and msg.hpke_public_key == b.xwing_public_key]
    return named + [b for b in bundles if b not in named]


def open_welcome(msg: WelcomeMessage, bundles: Sequence[KeyPackageBundle]) -> UnwrappedWelcome | WelcomePointer:
    """Unwrap a direct Welcome, or a pointer (then fetch the pointee at ``pointer.destination`` and call
    :func:`open_pointee`). Raises Rejected(WELCOME_NOT_FOR_US) when none of our keys opens it."""
    _check_size(msg, msg.data, "welcome")
    algorithm = WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6  # pointers are always X-Wing wrapped
    if msg.kind is WelcomeKind.V1:
        try:
            algorithm = wrapper_algorithm_from_wire(msg.wrapper_algorithm)
        except XmtpMlsError as exc:
            raise _reject(msg, RejectReason.WELCOME_INVALID, str(exc)) from exc
    for bundle in _candidates(msg, bundles):
        try:
            if msg.kind is WelcomeKind.POINTER and bundle.xwing_seed is not None:
                return unwrap_welcome_pointer(msg.data, bundle.xwing_seed)
            if msg.kind is WelcomeKind.POINTER:
                continue
            if algorithm is WrapperAlgorithm.CURVE25519:
                return unwrap_welcome(msg.data, msg.welcome_metadata, bundle.init_private_key, algorithm)
            if algorithm is WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6 and bundle.xwing_seed is not None:
                return unwrap_welcome(msg.data, msg.welcome_metadata, bundle.xwing_seed, algorithm)
        except XmtpMlsError:
            continue
    raise _reject(msg, RejectReason.WELCOME_NOT_FOR_US, "no key package of this installation opens it")


def open_pointee(msg: WelcomeMessage, pointer: WelcomePointer, pointee: WelcomeMessage) -> UnwrappedWelcome:
    """Decrypt the pointee a Welcome pointer names; Rejected(WELCOME_INVALID) when it does not open."""
    _check_size(msg, pointee.data, "pointee")
    try:
        return decrypt_pointee(pointer, pointee.data, pointee.welcome_metadata)
    except XmtpMlsError as exc:
        raise _reject(msg, RejectReason.WELCOME_INVALID, f"pointee: {exc}") from exc


def message_cursor(welcome_metadata: bytes) -> int:
    """The group cursor the sender put in the (sender-chosen) WelcomeMetadata; XmtpMlsError when it is garbage."""
    if not welcome_metadata:
        return 0
    meta = mls_pb2.WelcomeMetadata()
    try:
        meta.ParseFromString(welcome_metadata)
    except ProtoDecodeError as exc:
        raise XmtpMlsError(f"WelcomeMetadata is not a valid proto: {exc}") from exc
    return int(meta.message_cursor)


async def join_welcome(
    msg: WelcomeMessage,
    unwrapped: UnwrappedWelcome,
    bundles: Sequence[KeyPackageBundle],
    keys: InstallationKeys,
    resolver: IdentityResolver,
    *,
    now: int | None = None,
) -> Joined:
    """Join the group and check it the way libxmtp does; Rejected with a specific reason otherwise. The tree's
    leaf lifetimes are checked only at an explicit ``now`` (seconds): libxmtp does not check them on Welcomes
    (xmtp/libxmtp#2252), since one long-idle member's expired leaf would stop every later joiner of its group.
    The key packages of Adds are checked on receipt (`process_envelope`)."""
    _check_size(msg, unwrapped.welcome, "unwrapped welcome")
    try:
        message = MLSMessage.from_bytes(unwrapped.welcome)
    except MLSError as exc:
        raise _reject(msg, RejectReason.WELCOME_INVALID, f"not an MLSMessage: {exc}") from exc
    welcome = message.body
    if not isinstance(welcome, Welcome):
        raise _reject(msg, RejectReason.WELCOME_INVALID, "MLSMessage is not a Welcome")
    refs = {s.new_member for s in welcome.secrets}
    bundle = next((b for b in bundles if b.ref in refs), None)
    if bundle is None:
        raise _reject(msg, RejectReason.WELCOME_NOT_FOR_US, "no secrets for any of our key packages")
    try:
        suite = get_cipher_suite(welcome.cipher_suite)
        secrets = decrypt_group_secrets(suite, welcome, bundle.ref, bundle.init_private_key)
        signer = decrypt_group_info(suite, welcome, secrets.joiner_secret).signer
        group = Group.join(
            welcome,
            bundle.to_mls_bundle(keys.private_seed),
            max_leaves=MAX_GROUP_LEAVES,
            now=now,
        )
        view = parse_group_extensions(group.extensions)
        inviter = leaf_inbox_id(group, signer)
        cursor = message_cursor(unwrapped.welcome_metadata)
    except LimitError as exc:
        raise _reject(msg, RejectReason.TOO_LARGE, str(exc)) from exc
    except LifetimeError as exc:
        raise _reject(msg, RejectReason.LIFETIME_INVALID, str(exc)) from exc
    except (MLSError, XmtpMlsError) as exc:
        raise _reject(msg, RejectReason.WELCOME_INVALID, str(exc)) from exc
    if len(view.membership.members) > MAX_GROUP_SIZE:
        detail = f"{len(view.membership.members)} member inboxes, XMTP's limit is {MAX_GROUP_SIZE}"
        raise _reject(msg, RejectReason.TOO_LARGE, detail)
    try:
        if view.is_dm:
            validate_dm(view, inviter, keys.inbox_id)
        # Every credential is parsed (and its inbox id's form checked) before any identity look-up.
        leaves = leaf_identities(leaf for _, leaf in group.members())
        states = await installation_states(resolver, view.membership.members)
        check_initial_membership(view.membership, leaves, states)
        info = conversation_info(group.group_id, view, keys.inbox_id)
    except XmtpMlsError as exc:
        raise _reject(msg, RejectReason.JOINER_CHECK_FAILED, str(exc)) from exc
    except Rejected as exc:
        raise _reject(msg, exc.reason, exc.detail) from exc
    event = ConversationJoined(info, inviter, msg.id, cursor)
    return Joined(group, event, bundle.ref)
