"""Mutated input from a member (who can sign it) must only ever be accepted or refused with an MLSError.

The mutations are re-signed so they get past the signatures to the checks behind them: a GroupInfo is
mutated, its tree hash recomputed, re-signed by the group's member and sealed into a valid Welcome; a commit's
FramedContent is mutated and re-signed, with a valid membership tag, as a PublicMessage. Hypothesis picks the
mutations; example counts stay small because every case runs real MLS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import EXT_RATCHET_TREE, find_extension
from xmtp_core.mls.framing import WIRE_PUBLIC_MESSAGE, FramedContent, MLSMessage, PublicMessage
from xmtp_core.mls.group import Group, GroupConfig
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.message_protection import authenticate, to_public_message
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import WelcomeRecipient, decrypt_group_info, decrypt_group_secrets, encrypt_welcome

SUITE = 3
SUITE_OBJ = get_cipher_suite(SUITE)
PUBLIC = GroupConfig(encrypt_handshake=False)


def _bundle(name: bytes) -> OwnKeyPackage:
    sk, _ = SUITE_OBJ.generate_signature_key_pair()
    return create_key_package(SUITE, sk, Credential.basic(name))


@dataclass
class _Fixture:
    creator: Group  # at the epoch the commit below starts from
    member: Group
    joiner: OwnKeyPackage
    joiner_secret: bytes
    path_secret: bytes | None
    group_info: bytes
    commit: PublicMessage


def _fixture() -> _Fixture:
    sk, _ = SUITE_OBJ.generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"creator"), config=PUBLIC)
    member_bundle, other, joiner = _bundle(b"member"), _bundle(b"other"), _bundle(b"joiner")
    first = creator.commit([Proposal.add(member_bundle.key_package), Proposal.add(other.key_package)])
    creator.merge_staged_commit(first)
    assert first.welcome is not None
    member = Group.join(first.welcome, member_bundle, config=PUBLIC)
    second = creator.commit([Proposal.add(joiner.key_package), Proposal.remove(2)], force_path=True)
    assert second.welcome is not None and second.message is not None
    welcome, commit = second.welcome.body, second.message.body
    assert isinstance(welcome, Welcome) and isinstance(commit, PublicMessage)
    secrets = decrypt_group_secrets(SUITE_OBJ, welcome, joiner.key_package.ref(SUITE_OBJ), joiner.init_priv)
    info = decrypt_group_info(SUITE_OBJ, welcome, secrets.joiner_secret).to_bytes()
    return _Fixture(creator, member, joiner, secrets.joiner_secret, secrets.path_secret, info, commit)


FIXTURE = _fixture()
MUTATIONS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1 << 20), st.integers(min_value=0, max_value=255)),
    min_size=1,
    max_size=3,
)
CUTS = st.none() | st.integers(min_value=1, max_value=4000)


def _mutate(data: bytes, changes: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in changes:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


def _accepted_or_refused(action: Callable[[], object]) -> None:
    """Any outcome but an exception that is not an MLSError."""
    try:
        action()
    except MLSError:
        return


def _resigned_welcome(info_bytes: bytes) -> Welcome:
    """The mutated GroupInfo with its tree's hash put into the context, re-signed and sealed (MLSError if the
    mutation does not even parse)."""
    info = GroupInfo.from_bytes(info_bytes)
    ext = find_extension(info.extensions, EXT_RATCHET_TREE)
    if ext is not None:
        tree_hash = RatchetTree.from_extension_data(ext.extension_data).tree_hash(SUITE_OBJ)
        info = replace(info, group_context=replace(info.group_context, tree_hash=tree_hash))
    info = info.signed(SUITE_OBJ, FIXTURE.creator.signature_priv)
    recipient = WelcomeRecipient(FIXTURE.joiner.key_package, FIXTURE.path_secret)
    return encrypt_welcome(SUITE_OBJ, info, FIXTURE.joiner_secret, [recipient])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS, CUTS)
def test_member_signed_mutated_group_info(changes: list[tuple[int, int]], cut: int | None) -> None:
    def join() -> None:
        welcome = _resigned_welcome(_mutate(FIXTURE.group_info, changes, cut))
        Group.join(welcome, FIXTURE.joiner, max_leaves=250)

    _accepted_or_refused(join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS, CUTS)
def test_member_signed_mutated_commit(changes: list[tuple[int, int]], cut: int | None) -> None:
    creator = FIXTURE.creator
    original = FIXTURE.commit

    def process() -> None:
        content = FramedContent.from_bytes(_mutate(original.content.to_bytes(), changes, cut))
        ac = authenticate(
            SUITE_OBJ, creator.signature_priv, WIRE_PUBLIC_MESSAGE, content, creator.context,
            original.auth.confirmation_tag,
        )  # fmt: skip
        message = to_public_message(SUITE_OBJ, ac, creator.epoch_state.secrets.membership_key, creator.context)
        FIXTURE.member.process_message(MLSMessage.wrap(message), max_leaves=250, max_proposals=250)

    _accepted_or_refused(process)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_as_a_message(data: bytes) -> None:
    _accepted_or_refused(lambda: FIXTURE.member.process_message(data))
