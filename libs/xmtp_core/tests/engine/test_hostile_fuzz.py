"""Mutation tests: hostile envelopes and Welcomes, where possible signed with a real member's valid keys, only
ever produce an Outcome or a typed rejection (``Rejected``), never another exception, and never move the group
on a rejection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest
from enginekit import Client, Node, Resolver, add, client, join, send
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xmtp_core.content import default_registry
from xmtp_core.content.envelope import encode_plaintext_envelope
from xmtp_core.engine import (
    EnvelopeRejected,
    Outcome,
    Rejected,
    join_welcome,
    new_group,
    open_pointee,
    open_welcome,
    process_envelope,
)
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import Extension
from xmtp_core.mls.group import Group
from xmtp_core.mls.proposals import Proposal
from xmtp_core.node.models import GroupMessage, WelcomeMessage
from xmtp_core.xmtp_mls.constants import (
    EXT_GROUP_MEMBERSHIP,
    EXT_GROUP_PERMISSIONS,
    EXT_IMMUTABLE_METADATA,
    EXT_MUTABLE_METADATA,
    EXT_REQUIRED_CAPABILITIES,
)
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome, WelcomePointer

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
GROUP_EXTENSIONS = [
    EXT_IMMUTABLE_METADATA,
    EXT_MUTABLE_METADATA,
    EXT_GROUP_MEMBERSHIP,
    EXT_GROUP_PERMISSIONS,
    EXT_REQUIRED_CAPABILITIES,
]


@dataclass
class World:
    node: Node
    resolver: Resolver
    admin: Client
    bob: Client
    mallory: Client
    commit: GroupMessage  # a genuine key update by mallory
    text: GroupMessage  # a genuine message by mallory


def _world() -> World:
    async def build() -> World:
        resolver, node = Resolver(), Node()
        admin, bob, mallory = client(resolver), client(resolver), client(resolver)
        admin.group = new_group(admin.keys, 1)
        add(node, admin, [bob, mallory])
        for member in (bob, mallory):
            await join(node, member, resolver)
        assert mallory.group is not None
        staged = Group.from_bytes(mallory.group.to_bytes()).commit([], force_path=True)
        assert staged.message is not None
        commit = node.publish(mallory.group.group_id, staged.message.to_bytes(), is_commit=True)
        text = send(node, mallory, "genuine")
        return World(node, resolver, admin, bob, mallory, commit, text)

    return asyncio.run(build())


@pytest.fixture(scope="module")
def world() -> World:
    return _world()


def _mutate(data: bytes, how: st.DataObject) -> bytes:
    buf = bytearray(data)
    for _ in range(how.draw(st.integers(1, 4))):
        op = how.draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        at = how.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[at] ^= how.draw(st.integers(1, 255))
        elif op == "cut":
            del buf[at : at + how.draw(st.integers(1, 64))]
        elif op == "insert":
            buf[at:at] = how.draw(st.binary(min_size=1, max_size=16))
        elif buf:
            buf[at] = how.draw(st.sampled_from([0x00, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xFF]))
    return bytes(buf)


async def _only_outcomes(world: World, data: bytes, *, is_commit: bool) -> None:
    assert world.bob.group is not None
    group = Group.from_bytes(world.bob.group.to_bytes())
    epoch, extensions = group.epoch, group.extensions
    envelope = GroupMessage(10**9, 1, group.group_id, data, b"", True, is_commit)
    outcome = await process_envelope(group, envelope, world.bob.keys, world.resolver, default_registry())
    assert isinstance(outcome, Outcome)
    if any(isinstance(e, EnvelopeRejected) for e in outcome.events):
        assert group.epoch == epoch and group.extensions == extensions
        for e in outcome.events:
            assert isinstance(e, EnvelopeRejected) and "\x00" not in e.detail


@SETTINGS
@given(how=st.data(), which=st.sampled_from(["commit", "text"]))
async def test_mutated_envelopes_are_outcomes(world: World, how: st.DataObject, which: str) -> None:
    genuine = world.commit if which == "commit" else world.text
    await _only_outcomes(world, _mutate(genuine.data, how), is_commit=how.draw(st.booleans()))


@SETTINGS
@given(payload=st.binary(max_size=300), wrap=st.booleans(), key=st.text(max_size=40))
async def test_hostile_application_payloads_from_a_member_are_outcomes(
    world: World, payload: bytes, wrap: bool, key: str
) -> None:
    """Correctly encrypted and signed by mallory, with arbitrary contents (raw, or inside a PlaintextEnvelope)."""
    assert world.mallory.group is not None
    sender = Group.from_bytes(world.mallory.group.to_bytes())
    data = encode_plaintext_envelope(payload, key) if wrap else payload
    await _only_outcomes(world, sender.encrypt_application(data).to_bytes(), is_commit=False)


@SETTINGS
@given(how=st.data(), ext_type=st.sampled_from(GROUP_EXTENSIONS), drop=st.booleans())
async def test_hostile_group_context_extensions_from_a_member_are_outcomes(
    world: World, how: st.DataObject, ext_type: int, drop: bool
) -> None:
    """mallory commits a GroupContextExtensions proposal with one extension mutated or dropped."""
    assert world.mallory.group is not None
    sender = Group.from_bytes(world.mallory.group.to_bytes())
    exts: list[Extension] = []
    for ext in sender.extensions:
        if ext.extension_type != ext_type:
            exts.append(ext)
        elif not drop:
            exts.append(Extension(ext_type, _mutate(ext.extension_data, how)))
    try:
        staged = sender.commit([Proposal.group_context_extensions(tuple(exts))], force_path=True)
    except MLSError:
        return  # mallory's own MLS checks refuse it; a raw attacker would be refused the same way by bob's MLS
    assert staged.message is not None
    await _only_outcomes(world, staged.message.to_bytes(), is_commit=True)


async def _join_or_rejected(msg: WelcomeMessage, world: World, unwrapped: UnwrappedWelcome | None = None) -> None:
    bob = world.bob
    try:
        opened = unwrapped or open_welcome(msg, [bob.bundle])
        if isinstance(opened, WelcomePointer):
            opened = open_pointee(msg, opened, msg)
        await join_welcome(msg, opened, [bob.bundle], bob.keys, world.resolver)
    except Rejected as exc:
        assert "\x00" not in exc.detail


@pytest.fixture(scope="module")
def welcome(world: World) -> tuple[WelcomeMessage, UnwrappedWelcome]:
    (msg,) = [w for w in world.node.welcomes if w.installation_key == world.bob.keys.installation_key][:1]
    opened = open_welcome(msg, [world.bob.bundle])
    assert isinstance(opened, UnwrappedWelcome)
    return msg, opened


@SETTINGS
@given(how=st.data(), part=st.sampled_from(["data", "welcome_metadata", "hpke_public_key", "wrapper_algorithm"]))
async def test_mutated_wrapped_welcomes_are_rejections(
    world: World, welcome: tuple[WelcomeMessage, UnwrappedWelcome], how: st.DataObject, part: str
) -> None:
    msg, _ = welcome
    if part == "wrapper_algorithm":
        hostile = replace(msg, wrapper_algorithm=how.draw(st.integers(-(2**31), 2**31)))
    else:
        hostile = replace(msg, **{part: _mutate(getattr(msg, part), how)})
    await _join_or_rejected(hostile, world)


@SETTINGS
@given(how=st.data(), part=st.sampled_from(["welcome", "welcome_metadata"]))
async def test_mutated_unwrapped_welcomes_are_rejections(
    world: World, welcome: tuple[WelcomeMessage, UnwrappedWelcome], how: st.DataObject, part: str
) -> None:
    """After the HPKE wrapper (which any XMTP user can produce for our key package): the MLS Welcome itself."""
    msg, opened = welcome
    hostile = replace(opened, **{part: _mutate(getattr(opened, part), how)})
    await _join_or_rejected(msg, world, hostile)


@SETTINGS
@given(how=st.data(), ext_type=st.sampled_from(GROUP_EXTENSIONS))
async def test_welcomes_into_groups_with_hostile_extensions_are_rejections(how: st.DataObject, ext_type: int) -> None:
    """A sender builds a real group whose context carries one mutated extension, then invites bob: the Welcome
    decrypts and verifies, its contents are hostile."""
    resolver, node = Resolver(), Node()
    sender, bob = client(resolver), client(resolver)
    group = new_group(sender.keys, 1)
    exts = tuple(
        Extension(e.extension_type, _mutate(e.extension_data, how)) if e.extension_type == ext_type else e
        for e in group.extensions
    )
    try:
        group.merge_staged_commit(group.commit([Proposal.group_context_extensions(exts)], force_path=True))
        sender.group = group
        add(node, sender, [bob])
    except Exception:  # the sender's own tooling refuses the layout; nothing reaches bob
        return
    world = World(node, resolver, sender, bob, sender, node.messages[-1], node.messages[-1])
    for msg in node.welcomes_for(bob.keys.installation_key):
        await _join_or_rejected(msg, world)
