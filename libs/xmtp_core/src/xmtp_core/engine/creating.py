"""Creating conversations and building what intents publish: application messages at the current epoch, and
commits (add/remove members by inbox id, metadata, admins, permissions, key update) built on a copy of the group
so the post-commit state can be stored with the intent and merged only when the commit comes back in order."""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from xmtp_core.content.envelope import encode_plaintext_envelope
from xmtp_core.engine.conversation import leaves_of_inboxes
from xmtp_core.engine.errors import EngineError, Rejected, RejectReason
from xmtp_core.engine.events import GroupMessageOut
from xmtp_core.engine.installation import InstallationKeys
from xmtp_core.envelopes import NewWelcome, NewWelcomePointer
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.group import Group
from xmtp_core.mls.proposals import Proposal
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.constants import XMTP_CIPHERSUITE
from xmtp_core.xmtp_mls.credential import application_id_extension
from xmtp_core.xmtp_mls.errors import XmtpMlsError
from xmtp_core.xmtp_mls.extensions import (
    GroupExtensions,
    GroupMembership,
    MutableMetadata,
    new_dm_extensions,
    new_group_extensions,
    parse_group_extensions,
)
from xmtp_core.xmtp_mls.key_package import PeerKeyPackage, parse_key_package, xmtp_capabilities
from xmtp_core.xmtp_mls.policies import PolicySet, decode_permissions, encode_permissions, evaluate_commit
from xmtp_core.xmtp_mls.sender_hmac import sender_hmac
from xmtp_core.xmtp_mls.welcome_delivery import welcome_inputs


class IntentKind(enum.StrEnum):
    """What an intent asks for: one application message or one kind of commit."""

    SEND_MESSAGE = "send_message"
    ADD_MEMBERS = "add_members"
    REMOVE_MEMBERS = "remove_members"
    UPDATE_METADATA = "update_metadata"
    UPDATE_ADMINS = "update_admins"
    UPDATE_PERMISSIONS = "update_permissions"
    KEY_UPDATE = "key_update"


class AdminAction(enum.StrEnum):
    """The admin-list change an UPDATE_ADMINS intent makes."""

    ADD_ADMIN = "add_admin"
    REMOVE_ADMIN = "remove_admin"
    ADD_SUPER_ADMIN = "add_super_admin"
    REMOVE_SUPER_ADMIN = "remove_super_admin"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


@dataclass(frozen=True)
class Built:
    """What an intent published (or is about to): the MLS message and, for commits, the state after it."""

    data: bytes
    epoch: int  # the epoch the message was made in
    post_state: bytes | None = field(default=None, repr=False)  # commits: the merged group, secrets included
    welcome: bytes | None = None
    recipients: tuple[bytes, ...] = ()  # TLS key packages the Welcome goes to

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (bytes as base64) for storing with the intent."""
        return {
            "data": _b64(self.data),
            "epoch": self.epoch,
            "post_state": None if self.post_state is None else _b64(self.post_state),
            "welcome": None if self.welcome is None else _b64(self.welcome),
            "recipients": [_b64(r) for r in self.recipients],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Built:
        """The inverse of :meth:`to_json`."""
        post, welcome = obj.get("post_state"), obj.get("welcome")
        return cls(
            data=_unb64(obj["data"]),
            epoch=int(obj["epoch"]),
            post_state=None if post is None else _unb64(post),
            welcome=None if welcome is None else _unb64(welcome),
            recipients=tuple(_unb64(r) for r in obj.get("recipients", ())),
        )


@dataclass(frozen=True)
class IntentPayload:
    """An intent's parameters plus, once built, the message it publishes (stored encrypted with the intent)."""

    kind: IntentKind
    params: dict[str, Any] = field(default_factory=dict)
    built: Built | None = None

    @property
    def is_commit(self) -> bool:
        """Every kind but SEND_MESSAGE publishes a commit."""
        return self.kind is not IntentKind.SEND_MESSAGE

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys), what the store keeps encrypted."""
        obj = {"kind": self.kind.value, "params": self.params, "built": self.built and self.built.to_json()}
        return json.dumps(obj, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> IntentPayload:
        """The inverse of :meth:`to_bytes`; EngineError when the bytes do not decode."""
        try:
            obj = json.loads(data)
            built = obj.get("built")
            return cls(IntentKind(obj["kind"]), dict(obj["params"]), None if built is None else Built.from_json(built))
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError(f"intent payload does not decode: {exc}") from exc


# ---- intents (what the runtime stores) -------------------------------------------------------------------


def send_message_intent(encoded_content: bytes, idempotency_key: str, *, should_push: bool = True) -> IntentPayload:
    """Send one EncodedContent with its idempotency key (``should_push`` is the node's push flag)."""
    params = {"content": _b64(encoded_content), "idempotency_key": idempotency_key, "should_push": should_push}
    return IntentPayload(IntentKind.SEND_MESSAGE, params)


def add_members_intent(inbox_ids: Sequence[str]) -> IntentPayload:
    """Add every installation of these inboxes (duplicates dropped, sorted for a stable payload)."""
    return IntentPayload(IntentKind.ADD_MEMBERS, {"inbox_ids": sorted(set(inbox_ids))})


def remove_members_intent(inbox_ids: Sequence[str]) -> IntentPayload:
    """Remove these inboxes and all their installations."""
    return IntentPayload(IntentKind.REMOVE_MEMBERS, {"inbox_ids": sorted(set(inbox_ids))})


def update_metadata_intent(fields: Mapping[str, str]) -> IntentPayload:
    """Name, description, image URL, disappearing-message settings (``MetadataField`` names)."""
    if not fields:
        raise EngineError("a metadata update needs at least one field")
    return IntentPayload(IntentKind.UPDATE_METADATA, {"fields": dict(fields)})


def update_admins_intent(action: AdminAction, inbox_id: str) -> IntentPayload:
    """Add or remove ``inbox_id`` from the admin or super-admin list."""
    return IntentPayload(IntentKind.UPDATE_ADMINS, {"action": action.value, "inbox_id": inbox_id})


def update_permissions_intent(policy_set: PolicySet) -> IntentPayload:
    """Replace the group's permission policy set."""
    return IntentPayload(IntentKind.UPDATE_PERMISSIONS, {"policy_set": _b64(encode_permissions(policy_set))})


def key_update_intent() -> IntentPayload:
    """An empty commit with an UpdatePath: fresh keys for our leaf."""
    return IntentPayload(IntentKind.KEY_UPDATE)


# ---- new conversations -----------------------------------------------------------------------------------


def _new_group(keys: InstallationKeys, extensions: GroupExtensions) -> Group:
    return Group.create(
        XMTP_CIPHERSUITE,
        keys.private_seed,
        keys.credential,
        extensions=extensions.to_extensions(),
        capabilities=xmtp_capabilities(),
        leaf_extensions=(application_id_extension(keys.inbox_id),),
    )


def new_dm(keys: InstallationKeys, own_sequence_id: int, peer_inbox_id: str) -> Group:
    """Epoch 0 of a DM (only us); the peer comes in with an ADD_MEMBERS intent, as libxmtp does it."""
    if peer_inbox_id == keys.inbox_id:
        raise EngineError("a DM needs another inbox")
    return _new_group(keys, new_dm_extensions(keys.inbox_id, peer_inbox_id, own_sequence_id))


def new_group(
    keys: InstallationKeys,
    own_sequence_id: int,
    *,
    policy: PolicySet | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Group:
    """Epoch 0 of a group with us as the only member and super admin (policy: All_Members unless given)."""
    return _new_group(keys, new_group_extensions(keys.inbox_id, own_sequence_id, policy=policy, attributes=attributes))


# ---- building ----------------------------------------------------------------------------------------------


def build_application(group: Group, payload: IntentPayload, keys: InstallationKeys) -> tuple[Built, GroupMessageOut]:
    """Encrypt a SEND_MESSAGE intent at the current epoch (advances our sending ratchet: save the group)."""
    if payload.kind is not IntentKind.SEND_MESSAGE:
        raise EngineError(f"{payload.kind} is not an application message")
    plaintext = encode_plaintext_envelope(_unb64(payload.params["content"]), payload.params["idempotency_key"])
    data = group.encrypt_application(plaintext).to_bytes()
    return Built(data, group.epoch), outgoing(group.group_id, data, keys, bool(payload.params.get("should_push", True)))


def outgoing(group_id: bytes, data: bytes, keys: InstallationKeys, should_push: bool = True) -> GroupMessageOut:
    """``data`` ready to publish on the group topic, with our sender HMAC (so push servers skip us)."""
    return GroupMessageOut(group_id, data, sender_hmac(keys.hmac_key(), group_id, data), should_push)


@dataclass(frozen=True)
class CommitInputs:
    """What the runtime looked up for a commit: newest sequence ids and key packages of inboxes being added."""

    sequence_ids: Mapping[str, int] = field(default_factory=dict)
    key_packages: Sequence[PeerKeyPackage] = ()


def build_commit(
    group: Group, payload: IntentPayload, keys: InstallationKeys, inputs: CommitInputs | None = None
) -> Built:
    """Build a commit intent on a copy of ``group``; ``group`` itself is untouched. Rejected(POLICY_DENIED)
    when the group's permissions do not let us make this change."""
    return build_commit_in_place(Group.from_bytes(group.to_bytes()), payload, keys, inputs)[0]


def build_commit_in_place(
    group: Group, payload: IntentPayload, keys: InstallationKeys, inputs: CommitInputs | None = None
) -> tuple[Built, Group]:
    """`build_commit` for a caller that owns ``group`` and drops it afterwards: no copy is made (at 250
    members a state copy costs more than the commit); ``group`` becomes the merged post-commit group, which
    is returned with the Built. After an error ``group`` may be half-changed and must be discarded."""
    if not payload.is_commit:
        raise EngineError(f"{payload.kind} is not a commit")
    inputs = inputs or CommitInputs()
    before = parse_group_extensions(group.extensions)
    after, proposals, recipients = _plan(group, before, payload, inputs)
    if after != before:
        try:
            summary = summarize_commit(before, after, keys.inbox_id)
        except XmtpMlsError as exc:
            raise Rejected(RejectReason.SEQUENCE_ID_DECREASED, str(exc)) from exc
        decision = evaluate_commit(before.permissions, summary)
        if not decision.allowed:
            raise Rejected(RejectReason.POLICY_DENIED, "; ".join(decision.violations))
        proposals.append(Proposal.group_context_extensions(after.to_extensions()))
    epoch = group.epoch
    try:
        staged = group.commit(proposals, force_path=True)
        group.merge_staged_commit(staged)
    except MLSError as exc:
        raise EngineError(f"cannot build the {payload.kind} commit: {exc}") from exc
    assert staged.message is not None
    welcome = None if staged.welcome is None else staged.welcome.to_bytes()
    return Built(staged.message.to_bytes(), epoch, group.to_bytes(), welcome, recipients), group


def _plan(
    group: Group, before: GroupExtensions, payload: IntentPayload, inputs: CommitInputs
) -> tuple[GroupExtensions, list[Proposal], tuple[bytes, ...]]:
    params = payload.params
    kind = payload.kind
    if kind is IntentKind.ADD_MEMBERS:
        return _plan_add(group, before, list(params["inbox_ids"]), inputs)
    if kind is IntentKind.REMOVE_MEMBERS:
        gone = set(params["inbox_ids"])
        members = {i: s for i, s in before.membership.members.items() if i not in gone}
        leaves = leaves_of_inboxes(group, gone)
        if not leaves:
            raise EngineError(f"none of {sorted(gone)} is in the group")
        after = replace(before, membership=GroupMembership(members, before.membership.failed_installations))
        return after, [Proposal.remove(i) for i in leaves], ()
    if kind is IntentKind.UPDATE_METADATA:
        attrs = dict(before.mutable.attributes) | dict(params["fields"])
        return replace(before, mutable=replace(before.mutable, attributes=attrs)), [], ()
    if kind is IntentKind.UPDATE_ADMINS:
        mutable = _admins(before.mutable, AdminAction(params["action"]), params["inbox_id"])
        return replace(before, mutable=mutable), [], ()
    if kind is IntentKind.UPDATE_PERMISSIONS:
        try:
            policy = decode_permissions(_unb64(params["policy_set"]))
        except XmtpMlsError as exc:
            raise EngineError(str(exc)) from exc
        return replace(before, permissions=policy), [], ()
    return before, [], ()  # KEY_UPDATE: an empty commit with a path


def _plan_add(
    group: Group, before: GroupExtensions, inbox_ids: list[str], inputs: CommitInputs
) -> tuple[GroupExtensions, list[Proposal], tuple[bytes, ...]]:
    missing = [i for i in inbox_ids if i not in inputs.sequence_ids]
    if missing:
        raise EngineError(f"no sequence id looked up for {missing}")
    present = {leaf.signature_key for _, leaf in group.members()}
    packages = [kp for kp in inputs.key_packages if kp.installation_key not in present and kp.inbox_id in inbox_ids]
    if not packages:
        raise EngineError(f"no key packages for {inbox_ids}")
    members = dict(before.membership.members) | {i: inputs.sequence_ids[i] for i in inbox_ids}
    after = replace(before, membership=GroupMembership(members, before.membership.failed_installations))
    proposals = [Proposal.add(kp.key_package) for kp in packages]
    return after, proposals, tuple(kp.key_package.to_bytes() for kp in packages)


def _admins(mutable: MutableMetadata, action: AdminAction, inbox_id: str) -> MutableMetadata:
    admins, supers = list(mutable.admins), list(mutable.super_admins)
    target = admins if action in (AdminAction.ADD_ADMIN, AdminAction.REMOVE_ADMIN) else supers
    if action in (AdminAction.ADD_ADMIN, AdminAction.ADD_SUPER_ADMIN):
        if inbox_id not in target:
            target.append(inbox_id)
    elif inbox_id in target:
        target.remove(inbox_id)
    else:
        raise EngineError(f"{inbox_id} does not hold that role")
    return replace(mutable, admins=tuple(admins), super_admins=tuple(supers))


# ---- after the commit came back -----------------------------------------------------------------------------


def welcome_messages(built: Built, commit_envelope_id: int) -> list[NewWelcome | NewWelcomePointer]:
    """The Welcomes of an add commit that the node accepted at ``commit_envelope_id`` (the joiners' cursor)."""
    if built.welcome is None:
        return []
    metadata = mls_pb2.WelcomeMetadata(message_cursor=commit_envelope_id).SerializeToString()
    recipients = [parse_key_package(r) for r in built.recipients]
    out: list[NewWelcome | NewWelcomePointer] = []
    for item in welcome_inputs(built.welcome, metadata, recipients):
        if item.WhichOneof("version") == "v1":
            v1 = item.v1
            out.append(
                NewWelcome(
                    v1.installation_key, v1.data, v1.hpke_public_key, int(v1.wrapper_algorithm), v1.welcome_metadata
                )
            )
        else:
            p = item.welcome_pointer
            out.append(
                NewWelcomePointer(p.installation_key, p.welcome_pointer, p.hpke_public_key, int(p.wrapper_algorithm))
            )
    return out
