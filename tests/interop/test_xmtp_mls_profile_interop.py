"""XMTP MLS profile against the real libxmtp (node-sdk 5.5.0 / libxmtp 1.9.1) through devnode.

* libxmtp's own key package, fetched from the node, parses and validates with ``xmtp_core.xmtp_mls``.
* A Python-built key package (plus a Python-built identity registration) is accepted: the node returns it,
  libxmtp's ``canMessage`` says yes, and libxmtp creates a DM with the Python inbox. The Welcome libxmtp then
  sends is unwrapped with our X-Wing seed, decrypted with our init key, and its group-context extensions parse
  as a DM with the DM policy set; the MLS engine joins from it and libxmtp reads the text we send back.
* The other way round: a Python-built DM (our extensions, one Add + GCE commit) with the Welcome X-Wing-wrapped
  (kem_id 0x004D) to libxmtp's 0xFF03 key is joined by libxmtp; its key-update commit passes our policy check
  and its text decrypts on our side.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

import grpc
import pytest
from peer import LibxmtpPeer
from xmtp_core.content import GroupUpdated
from xmtp_core.content.codecs.group import MetadataFieldChange
from xmtp_core.content.codecs.text import TextCodec
from xmtp_core.content.envelope import (
    PlaintextEnvelope,
    decode_plaintext_envelope,
    encode_plaintext_envelope,
    new_idempotency_key,
)
from xmtp_core.content.types import EncodedContent
from xmtp_core.identity import InstallationKeySigner, LocalWalletSigner, build_register, verify_log
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.extensions import find_extension
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group import ApplicationMessage, Group, StagedCommit, joined_tree
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import decrypt_group_info, decrypt_group_secrets
from xmtp_core.protos.identity.api.v1 import identity_pb2, identity_pb2_grpc
from xmtp_core.protos.mls.api.v1 import mls_pb2, mls_pb2_grpc
from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.commit_checks import check_commit_installations, expected_installation_diff
from xmtp_core.xmtp_mls.constants import (
    EXT_GROUP_MEMBERSHIP,
    EXT_GROUP_PERMISSIONS,
    EXT_IMMUTABLE_METADATA,
    EXT_LAST_RESORT,
    EXT_MUTABLE_METADATA,
    EXT_REQUIRED_CAPABILITIES,
    EXT_WELCOME_POINTEE_AEAD_TYPES,
    EXT_WELCOME_WRAPPER_ENCRYPTION,
    GROUP_REQUIRED_EXTENSIONS,
    LIBXMTP_1_9_CAPABILITY_EXTENSIONS,
)
from xmtp_core.xmtp_mls.credential import application_id_extension, build_credential
from xmtp_core.xmtp_mls.extensions import (
    ConversationType,
    GroupMembership,
    dm_peer_inbox_id,
    new_dm_extensions,
    new_group_extensions,
    parse_group_extensions,
    required_capabilities,
)
from xmtp_core.xmtp_mls.group_updated import group_updated_from_commit, is_empty
from xmtp_core.xmtp_mls.join_checks import check_initial_membership, leaf_identities, validate_dm
from xmtp_core.xmtp_mls.key_package import (
    KeyPackageBundle,
    build_key_package,
    parse_key_package,
    xmtp_capabilities,
)
from xmtp_core.xmtp_mls.policies import (
    MembershipBase,
    MetadataBase,
    MetadataField,
    PermissionsBase,
    base,
    evaluate_commit,
    preset_name,
)
from xmtp_core.xmtp_mls.sender_hmac import generate_hmac_key, sender_hmac
from xmtp_core.xmtp_mls.welcome_delivery import welcome_inputs
from xmtp_core.xmtp_mls.welcome_wrapper import (
    WrapperAlgorithm,
    decrypt_pointee,
    unwrap_welcome,
    unwrap_welcome_pointer,
    wrap_welcome,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]

XWING = WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6


def _target(devnode_url: str) -> str:
    return devnode_url.removeprefix("http://")


async def _fetch_key_package(target: str, installation_key: bytes) -> bytes:
    async with grpc.aio.insecure_channel(target) as channel:
        api = mls_pb2_grpc.MlsApiStub(channel)
        response = await api.FetchKeyPackages(mls_pb2.FetchKeyPackagesRequest(installation_keys=[installation_key]))
    assert len(response.key_packages) == 1
    return bytes(response.key_packages[0].key_package_tls_serialized)


async def _register_python_installation(
    target: str,
) -> tuple[LocalWalletSigner, InstallationKeySigner, str, KeyPackageBundle]:
    """libxmtp's order: upload the key package, then publish the identity registration."""
    wallet, installation = LocalWalletSigner.generate(), InstallationKeySigner.generate()
    register = await build_register(wallet, installation)
    bundle = build_key_package(register.inbox_id, installation.private_seed)
    async with grpc.aio.insecure_channel(target) as channel:
        upload = mls_pb2.UploadKeyPackageRequest(
            key_package=mls_pb2.KeyPackageUpload(key_package_tls_serialized=bundle.tls_bytes),
            is_inbox_id_credential=True,
        )
        await mls_pb2_grpc.MlsApiStub(channel).UploadKeyPackage(upload)
        publish = identity_pb2.PublishIdentityUpdateRequest(identity_update=register)
        await identity_pb2_grpc.IdentityApiStub(channel).PublishIdentityUpdate(publish)
    return wallet, installation, register.inbox_id, bundle


async def _welcomes(target: str, installation_key: bytes, *, wait: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + wait
    async with grpc.aio.insecure_channel(target) as channel:
        api = mls_pb2_grpc.MlsApiStub(channel)
        while True:
            response = await api.QueryWelcomeMessages(
                mls_pb2.QueryWelcomeMessagesRequest(installation_key=installation_key)
            )
            if response.messages or time.monotonic() > deadline:
                return list(response.messages)
            await asyncio.sleep(0.5)


async def test_libxmtp_key_package_validates_with_our_parser(peer: LibxmtpPeer, devnode_url: str) -> None:
    alice = await peer.create("alice", devnode_url)
    data = await _fetch_key_package(_target(devnode_url), bytes.fromhex(alice.installation_id))
    assert data, "devnode returned no key package for the libxmtp installation"

    parsed = parse_key_package(data, expected_inbox_id=alice.inbox_id)
    assert parsed.installation_key.hex() == alice.installation_id
    assert parsed.wrapper.algorithm == XWING and parsed.advertised_wrapper
    assert len(parsed.wrapper.public_key) == 1216
    assert parsed.pointee_aead_types == (3,)
    assert parsed.last_resort
    kp = parsed.key_package
    assert kp.cipher_suite == 3 and kp.leaf_node.capabilities.cipher_suites == (3,)
    assert [e.extension_type for e in kp.extensions] == [
        EXT_LAST_RESORT,
        EXT_WELCOME_POINTEE_AEAD_TYPES,
        EXT_WELCOME_WRAPPER_ENCRYPTION,
    ]
    lifetime = kp.leaf_node.lifetime
    assert lifetime is not None and lifetime.not_after - lifetime.not_before == 84 * 86400 + 3600
    # libxmtp 1.9.1 (node-sdk 5.5.0): no AppDataDictionary / AppDataUpdate yet.
    assert kp.leaf_node.capabilities.extensions == LIBXMTP_1_9_CAPABILITY_EXTENSIONS
    assert kp.leaf_node.capabilities.proposals == (7,)
    assert kp.leaf_node.extensions == (application_id_extension(alice.inbox_id),)


async def test_libxmtp_accepts_python_key_package_and_sends_an_xwing_welcome(
    peer: LibxmtpPeer, devnode_url: str
) -> None:
    target = _target(devnode_url)
    alice = await peer.create("alice", devnode_url)
    wallet, installation, inbox_id, bundle = await _register_python_installation(target)

    assert await _fetch_key_package(target, bundle.installation_key) == bundle.tls_bytes
    reach = await peer.can_message("alice", [wallet.identifier.text()])
    assert reach == {wallet.identifier.text(): True}

    dm = await peer.create_dm("alice", inbox_id)
    assert dm["type"] == "dm" and dm["peerInboxId"] == inbox_id

    welcomes = await _welcomes(target, bundle.installation_key)
    assert len(welcomes) == 1
    assert welcomes[0].WhichOneof("version") == "v1"
    v1 = welcomes[0].v1
    assert v1.wrapper_algorithm == XWING
    assert v1.hpke_public_key == bundle.xwing_public_key
    assert bytes(v1.data[:2]) == b"\x44\x60"

    unwrapped = unwrap_welcome(bytes(v1.data), bytes(v1.welcome_metadata), bundle.xwing_seed or b"", XWING)
    metadata = mls_pb2.WelcomeMetadata()
    metadata.ParseFromString(unwrapped.welcome_metadata)
    assert metadata.message_cursor > 0
    message = MLSMessage.from_bytes(unwrapped.welcome)
    assert isinstance(message.body, Welcome)
    suite = get_cipher_suite(3)
    secrets = decrypt_group_secrets(suite, message.body, bundle.ref, bundle.init_private_key)
    group_info = decrypt_group_info(suite, message.body, secrets.joiner_secret)

    context_exts = group_info.group_context.extensions
    # libxmtp's order: the membership extension is re-appended by the commit that adds the peer.
    assert [e.extension_type for e in context_exts] == [
        EXT_IMMUTABLE_METADATA,
        EXT_MUTABLE_METADATA,
        EXT_GROUP_PERMISSIONS,
        EXT_REQUIRED_CAPABILITIES,
        EXT_GROUP_MEMBERSHIP,
    ]
    assert find_extension(context_exts, EXT_REQUIRED_CAPABILITIES) == required_capabilities().to_extension()
    assert [e.extension_type for e in group_info.extensions] == [0x0002]  # ratchet tree in every Welcome
    view = parse_group_extensions(context_exts)
    assert view.conversation_type == ConversationType.DM
    assert view.metadata.creator_inbox_id == alice.inbox_id
    assert set(view.metadata.dm_members or ()) == {alice.inbox_id, inbox_id}
    assert dm_peer_inbox_id(view.metadata, inbox_id) == alice.inbox_id
    assert view.mutable.admins == () and view.mutable.super_admins == ()
    assert set(view.membership.members) == {alice.inbox_id, inbox_id}
    assert view.membership.members[inbox_id] >= 1
    policy = view.permissions
    assert policy.add_member == policy.remove_member == base(MembershipBase.DENY)
    assert policy.add_admin == policy.remove_admin == policy.update_permissions == base(PermissionsBase.DENY)
    assert policy.update_metadata and all(p == base(MetadataBase.ALLOW) for p in policy.update_metadata.values())
    assert view.required is not None
    assert view.required.extension_types == GROUP_REQUIRED_EXTENSIONS
    assert MetadataField.COMMIT_LOG_SIGNER in view.mutable.attributes  # libxmtp 1.9.1 enables the commit log

    # libxmtp's joiner checks, with association states replayed from the node's identity logs.
    validate_dm(view, alice.inbox_id, inbox_id)
    leaves = leaf_identities(leaf for _, leaf in joined_tree(suite, group_info, None).leaves())
    states = {i: await _installations_at(target, i, seq) for i, seq in view.membership.members.items()}
    check_initial_membership(view.membership, leaves, states)

    # The Welcome is complete: the MLS engine joins from it, and libxmtp reads the text we send back.
    group = Group.join(message, bundle.to_mls_bundle(installation.private_seed))
    assert group.extensions == context_exts
    text = f"hello from python {uuid.uuid4().hex[:8]}"
    envelope = encode_plaintext_envelope(TextCodec().encode(text).to_bytes(), new_idempotency_key())
    data = group.encrypt_application(envelope).to_bytes()
    hmac_value = sender_hmac(generate_hmac_key(), group.group_id, data)
    await _send_group_message(target, data, hmac_value)
    texts = [m["content"] for m in await peer.messages("alice", dm["id"]) if m["senderInboxId"] == inbox_id]
    assert texts == [text]


async def _send_group_message(target: str, data: bytes, hmac_value: bytes) -> None:
    V1 = mls_pb2.GroupMessageInput.V1
    message = mls_pb2.GroupMessageInput(v1=V1(data=data, sender_hmac=hmac_value, should_push=True))
    async with grpc.aio.insecure_channel(target) as channel:
        await mls_pb2_grpc.MlsApiStub(channel).SendGroupMessages(mls_pb2.SendGroupMessagesRequest(messages=[message]))


async def _installations_at(target: str, inbox_id: str, sequence_id: int) -> list[bytes]:
    async with grpc.aio.insecure_channel(target) as channel:
        request = identity_pb2.GetIdentityUpdatesRequest(
            requests=[identity_pb2.GetIdentityUpdatesRequest.Request(inbox_id=inbox_id, sequence_id=0)]
        )
        response = await identity_pb2_grpc.IdentityApiStub(channel).GetIdentityUpdates(request)
    log = [entry.update for entry in response.responses[0].updates if entry.sequence_id <= sequence_id]
    return (await verify_log(log)).installation_keys()


async def _latest_sequence_id(target: str, inbox_id: str) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        request = identity_pb2.GetIdentityUpdatesRequest(
            requests=[identity_pb2.GetIdentityUpdatesRequest.Request(inbox_id=inbox_id, sequence_id=0)]
        )
        response = await identity_pb2_grpc.IdentityApiStub(channel).GetIdentityUpdates(request)
    return max(entry.sequence_id for entry in response.responses[0].updates)


async def _group_messages(target: str, group_id: bytes) -> list[Any]:
    async with grpc.aio.insecure_channel(target) as channel:
        api = mls_pb2_grpc.MlsApiStub(channel)
        response = await api.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=group_id))
    return sorted(response.messages, key=lambda m: m.v1.id)


async def test_libxmtp_joins_a_python_dm_from_an_xwing_wrapped_welcome(peer: LibxmtpPeer, devnode_url: str) -> None:
    target = _target(devnode_url)
    alice = await peer.create("alice", devnode_url)
    _, installation, inbox_id, _ = await _register_python_installation(target)
    alice_kp = parse_key_package(
        await _fetch_key_package(target, bytes.fromhex(alice.installation_id)), expected_inbox_id=alice.inbox_id
    )
    assert alice_kp.wrapper.algorithm == XWING

    # A DM the way libxmtp builds one: creator alone at epoch 0, then one commit adding the peer's installation
    # with a GroupContextExtensions proposal that puts both inboxes (at their sequence ids) in the membership.
    ours = new_dm_extensions(inbox_id, alice.inbox_id, await _latest_sequence_id(target, inbox_id))
    group = Group.create(
        3,
        installation.private_seed,
        build_credential(inbox_id),
        extensions=ours.to_extensions(),
        capabilities=xmtp_capabilities(),
        leaf_extensions=(application_id_extension(inbox_id),),
    )
    members = {**ours.membership.members, alice.inbox_id: await _latest_sequence_id(target, alice.inbox_id)}
    updated = replace(ours, membership=GroupMembership(members))
    staged = group.commit(
        [Proposal.add(alice_kp.key_package), Proposal.group_context_extensions(updated.to_extensions())],
        force_path=True,
    )
    group.merge_staged_commit(staged)
    assert staged.message is not None and staged.welcome is not None
    commit_bytes = staged.message.to_bytes()
    await _send_group_message(target, commit_bytes, sender_hmac(generate_hmac_key(), group.group_id, commit_bytes))
    commit_id = (await _group_messages(target, group.group_id))[-1].v1.id

    metadata = mls_pb2.WelcomeMetadata(message_cursor=commit_id).SerializeToString()
    wrapped = wrap_welcome(staged.welcome.to_bytes(), metadata, alice_kp.wrapper.public_key, XWING)
    V1 = mls_pb2.WelcomeMessageInput.V1
    welcome = mls_pb2.WelcomeMessageInput(
        v1=V1(
            installation_key=alice_kp.installation_key,
            data=wrapped.data,
            hpke_public_key=alice_kp.wrapper.public_key,
            wrapper_algorithm=XWING,
            welcome_metadata=wrapped.welcome_metadata,
        )
    )
    async with grpc.aio.insecure_channel(target) as channel:
        await mls_pb2_grpc.MlsApiStub(channel).SendWelcomeMessages(
            mls_pb2.SendWelcomeMessagesRequest(messages=[welcome])
        )

    conversations = await peer.list_conversations("alice")
    dms = [c for c in conversations if c["id"] == group.group_id.hex()]
    assert len(dms) == 1, f"libxmtp did not join the Python DM: {conversations}"
    assert dms[0]["type"] == "dm" and dms[0]["peerInboxId"] == inbox_id

    text = f"hello python {uuid.uuid4().hex[:8]}"
    await peer.send_text("alice", dms[0]["id"], text)
    received, commits = [], []
    for row in await _group_messages(target, group.group_id):
        if row.v1.id <= commit_id:
            continue
        result = group.process_message(MLSMessage.from_bytes(bytes(row.v1.data)))
        if isinstance(result, StagedCommit):
            commits.append(_check_libxmtp_commit(group, result, alice.inbox_id))
            group.merge_staged_commit(result)
        elif isinstance(result, ApplicationMessage):
            envelope = decode_plaintext_envelope(result.data)
            assert isinstance(envelope, PlaintextEnvelope)
            received.append(envelope.content)
    texts = [TextCodec().decode(EncodedContent.from_bytes(content)) for content in received]
    assert texts == [text]
    # libxmtp 1.9.1 makes a key-update commit (no extension changes) after joining, before it sends.
    assert commits and all(is_empty(c) and c.initiated_by_inbox_id == alice.inbox_id for c in commits)


def _check_libxmtp_commit(group: Group, staged: StagedCommit, committer_inbox: str) -> GroupUpdated:
    """Run our commit summary and policy check over a commit libxmtp made in our DM."""
    before = parse_group_extensions(group.extensions)
    after = parse_group_extensions(staged.new_epoch.context.extensions)
    summary = summarize_commit(before, after, committer_inbox)
    decision = evaluate_commit(before.permissions, summary)
    assert decision.allowed, decision.violations
    return group_updated_from_commit(summary)


async def _open_welcome(target: str, bundle: KeyPackageBundle) -> tuple[str, MLSMessage]:
    """Fetch and open this installation's one Welcome, following a pointer if libxmtp sent one."""
    welcomes = await _welcomes(target, bundle.installation_key)
    assert len(welcomes) == 1
    kind = welcomes[0].WhichOneof("version")
    if kind == "v1":
        v1 = welcomes[0].v1
        unwrapped = unwrap_welcome(bytes(v1.data), bytes(v1.welcome_metadata), bundle.xwing_seed or b"", XWING)
    else:
        wp = welcomes[0].welcome_pointer
        assert wp.wrapper_algorithm == XWING and wp.hpke_public_key == bundle.xwing_public_key
        pointer = unwrap_welcome_pointer(bytes(wp.welcome_pointer), bundle.xwing_seed or b"")
        pointees = await _welcomes(target, pointer.destination)
        assert len(pointees) == 1 and pointees[0].v1.wrapper_algorithm == WrapperAlgorithm.SYMMETRIC_KEY
        pointee = pointees[0].v1
        assert not pointee.hpke_public_key  # libxmtp leaves it empty for the symmetric pointee
        unwrapped = decrypt_pointee(pointer, bytes(pointee.data), bytes(pointee.welcome_metadata))
    return kind, MLSMessage.from_bytes(unwrapped.welcome)


async def test_libxmtp_group_welcome_pointers_and_group_updated(peer: LibxmtpPeer, devnode_url: str) -> None:
    target = _target(devnode_url)
    await peer.create("alice", devnode_url)
    joiners = [await _register_python_installation(target) for _ in range(3)]
    group_name = f"profile {uuid.uuid4().hex[:6]}"
    created = await peer.create_group("alice", [inbox for _, _, inbox, _ in joiners], group_name)

    opened = [await _open_welcome(target, bundle) for _, _, _, bundle in joiners]
    # More than two recipients advertise 0xFF04, so libxmtp sends each a pointer to one shared pointee.
    assert [kind for kind, _ in opened] == ["welcome_pointer"] * 3

    _, installation, _, bundle = joiners[0]
    group = Group.join(opened[0][1], bundle.to_mls_bundle(installation.private_seed))
    assert group.group_id.hex() == created["id"]
    view = parse_group_extensions(group.extensions)
    assert view.conversation_type == ConversationType.GROUP and not view.is_dm
    assert view.mutable.attributes[MetadataField.GROUP_NAME] == group_name
    assert view.mutable.super_admins == (created["creatorInboxId"],)
    assert preset_name(view.permissions) == "all_members"
    assert set(view.membership.members) == {created["creatorInboxId"], *(i for _, _, i, _ in joiners)}

    # A rename by libxmtp: our summary, policy check and GroupUpdated match what libxmtp records.
    cursor = (await _group_messages(target, group.group_id))[-1].v1.id
    new_name = f"renamed {uuid.uuid4().hex[:6]}"
    await peer.update_name("alice", created["id"], new_name)
    ours: list[GroupUpdated] = []
    for row in await _group_messages(target, group.group_id):
        if row.v1.id > cursor:
            result = group.process_message(MLSMessage.from_bytes(bytes(row.v1.data)))
            assert isinstance(result, StagedCommit)
            ours.append(_check_libxmtp_commit(group, result, created["creatorInboxId"]))
            group.merge_staged_commit(result)
    assert [u.metadata_field_changes for u in ours if not is_empty(u)] == [
        (MetadataFieldChange(MetadataField.GROUP_NAME, group_name, new_name),)
    ]
    theirs = [
        m["content"]
        for m in await peer.messages("alice", created["id"])
        if m["contentType"] == "xmtp.org/group_updated:1.0" and m["content"].get("metadataFieldChanges")
    ]
    assert len(theirs) == 1
    change = theirs[0]["metadataFieldChanges"][0]
    assert (change["fieldName"], change["oldValue"], change["newValue"]) == (
        MetadataField.GROUP_NAME,
        group_name,
        new_name,
    )
    assert theirs[0]["initiatedByInboxId"] == ours[-1].initiated_by_inbox_id

    # An add by libxmtp: the installation diff it implies checks out, and the GroupUpdated names the newcomer.
    newcomer = await peer.create("ed", devnode_url)
    cursor = (await _group_messages(target, group.group_id))[-1].v1.id
    await peer.add_members("alice", created["id"], [newcomer.inbox_id])
    added_updates: list[GroupUpdated] = []
    for row in await _group_messages(target, group.group_id):
        if row.v1.id <= cursor:
            continue
        result = group.process_message(MLSMessage.from_bytes(bytes(row.v1.data)))
        assert isinstance(result, StagedCommit)
        await _check_installations(target, group, result, created["creatorInboxId"])
        added_updates.append(_check_libxmtp_commit(group, result, created["creatorInboxId"]))
        group.merge_staged_commit(result)
    assert [u.added_inboxes for u in added_updates if u.added_inboxes] == [(newcomer.inbox_id,)]
    assert any(
        m["content"].get("addedInboxes") == [{"inboxId": newcomer.inbox_id}]
        for m in await peer.messages("alice", created["id"])
        if m["contentType"] == "xmtp.org/group_updated:1.0"
    )


async def _check_installations(target: str, group: Group, staged: StagedCommit, actor_inbox: str) -> None:
    before = parse_group_extensions(group.extensions)
    after = parse_group_extensions(staged.new_epoch.context.extensions)
    states_before = {i: await _installations_at(target, i, s) for i, s in before.membership.members.items()}
    states_after = {i: await _installations_at(target, i, s) for i, s in after.membership.members.items()}
    expected = expected_installation_diff(before.membership, after.membership, states_before, states_after)
    existing = {leaf.signature_key for _, leaf in group.members()}
    removed = {group.tree.member_leaf(i).signature_key for i in staged.removed}
    check_commit_installations(
        expected,
        [kp.leaf_node.signature_key for _, kp in staged.added],
        removed,
        existing=existing,
        failed=after.membership.failed_installations,
        actor_is_super_admin=before.mutable.is_super_admin(actor_inbox),
    )


async def test_libxmtp_joins_a_python_group_through_welcome_pointers(peer: LibxmtpPeer, devnode_url: str) -> None:
    target = _target(devnode_url)
    clients = [await peer.create(name, devnode_url) for name in ("bo", "cy", "di")]
    _, installation, inbox_id, _ = await _register_python_installation(target)
    peers = [
        parse_key_package(
            await _fetch_key_package(target, bytes.fromhex(c.installation_id)), expected_inbox_id=c.inbox_id
        )
        for c in clients
    ]

    name = f"python group {uuid.uuid4().hex[:6]}"
    ours = new_group_extensions(
        inbox_id, await _latest_sequence_id(target, inbox_id), attributes={MetadataField.GROUP_NAME: name}
    )
    group = Group.create(
        3,
        installation.private_seed,
        build_credential(inbox_id),
        extensions=ours.to_extensions(),
        capabilities=xmtp_capabilities(),
        leaf_extensions=(application_id_extension(inbox_id),),
    )
    members = dict(ours.membership.members)
    for client in clients:
        members[client.inbox_id] = await _latest_sequence_id(target, client.inbox_id)
    updated = replace(ours, membership=GroupMembership(members))
    proposals = [Proposal.add(p.key_package) for p in peers]
    staged = group.commit([*proposals, Proposal.group_context_extensions(updated.to_extensions())], force_path=True)
    group.merge_staged_commit(staged)
    assert staged.message is not None and staged.welcome is not None
    commit_bytes = staged.message.to_bytes()
    await _send_group_message(target, commit_bytes, sender_hmac(generate_hmac_key(), group.group_id, commit_bytes))
    commit_id = (await _group_messages(target, group.group_id))[-1].v1.id

    metadata = mls_pb2.WelcomeMetadata(message_cursor=commit_id).SerializeToString()
    inputs = welcome_inputs(staged.welcome.to_bytes(), metadata, peers)
    assert [i.WhichOneof("version") for i in inputs] == ["v1", "welcome_pointer", "welcome_pointer", "welcome_pointer"]
    async with grpc.aio.insecure_channel(target) as channel:
        await mls_pb2_grpc.MlsApiStub(channel).SendWelcomeMessages(mls_pb2.SendWelcomeMessagesRequest(messages=inputs))

    for client in clients:
        found = [c for c in await peer.list_conversations(client.name) if c["id"] == group.group_id.hex()]
        assert len(found) == 1, f"{client.name} did not join the Python group through its Welcome pointer"
        assert found[0]["type"] == "group" and found[0]["name"] == name
        assert found[0]["creatorInboxId"] == inbox_id
        assert found[0]["memberInboxIds"] == sorted([inbox_id, *(c.inbox_id for c in clients)])
