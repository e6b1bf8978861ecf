"""Group state: a tampered passive-client case (all cases run in ``test_official_vectors.py``), end-to-end flows
between simulated members, persistence, past-epoch messages, rejection of bad input, and a property test where
members stay in agreement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xmtp_core.mls.app_data import EXT_APP_DATA_DICTIONARY, AppDataDictionary
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance import passive_client
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import (
    CryptoError,
    DecodeError,
    EpochError,
    GenerationError,
    MLSError,
    SignatureError,
    UnsupportedError,
    ValidationError,
)
from xmtp_core.mls.extensions import Capabilities, Extension, RequiredCapabilities, find_extension
from xmtp_core.mls.external_commit import join_by_external_commit
from xmtp_core.mls.framing import MLSMessage, Sender
from xmtp_core.mls.group import ApplicationMessage, Group, GroupConfig, ProposalMessage, StagedCommit
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import APP_DATA_UPDATE, Commit, Proposal, ProposalOrRef

from ._vectors import load

SUITE = 3  # XMTP's suite: X25519, ChaCha20-Poly1305, SHA-256, Ed25519
PASSIVE = load("passive-client-welcome") + load("passive-client-handling-commit")


def test_passive_client_detects_wrong_authenticator() -> None:
    case = dict(next(c for c in PASSIVE if c["epochs"]))
    epochs = [dict(e) for e in case["epochs"]]
    epochs[-1]["epoch_authenticator"] = "00" * 32
    case["epochs"] = epochs
    with pytest.raises(AssertionError):
        passive_client.run_case(case)


def _bundle(name: str, suite_id: int = SUITE) -> OwnKeyPackage:
    sk, _ = get_cipher_suite(suite_id).generate_signature_key_pair()
    return create_key_package(suite_id, sk, Credential.basic(name.encode()))


def _new_group(n: int, config: GroupConfig | None = None) -> list[Group]:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"m0"), config=config)
    if n == 1:
        return [creator]
    bundles = [_bundle(f"m{i}") for i in range(1, n)]
    staged = creator.commit([Proposal.add(b.key_package) for b in bundles])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    return [creator] + [Group.join(staged.welcome, b, config=config) for b in bundles]


def _deliver(staged: StagedCommit, committer: Group, others: list[Group]) -> None:
    assert staged.message is not None
    wire = staged.message.to_bytes()
    committer.merge_staged_commit(staged)
    for g in others:
        result = g.process_message(wire)
        assert isinstance(result, StagedCommit)
        g.merge_staged_commit(result)


def _agree(groups: list[Group]) -> None:
    active = [g for g in groups if g.active]
    assert len({g.epoch_authenticator for g in active}) == 1
    assert len({g.tree.tree_hash(g.suite) for g in active}) == 1
    assert len({g.epoch for g in active}) == 1


def test_create_add_message_remove() -> None:
    groups = _new_group(4)
    _agree(groups)
    assert [g.own_leaf_index for g in groups] == [0, 1, 2, 3]
    msg = groups[1].encrypt_application(b"hello", b"ad")
    for g in (groups[0], groups[2], groups[3]):
        got = g.process_message(msg)
        assert got == ApplicationMessage(1, groups[1].epoch, b"hello", b"ad")
    staged = groups[2].commit([Proposal.remove(3)])
    assert staged.removed == [3]
    _deliver(staged, groups[2], [groups[0], groups[1], groups[3]])
    assert not groups[3].active
    _agree(groups[:3])
    assert len(groups[0].members()) == 3
    with pytest.raises(ValidationError):
        groups[3].encrypt_application(b"after removal")


def test_update_proposal_committed_by_other_member() -> None:
    groups = _new_group(3)
    proposal = groups[2].propose_update()
    for g in groups[:2]:
        assert isinstance(g.process_message(proposal), ProposalMessage)
    old_key = groups[0].tree.member_leaf(2).encryption_key
    staged = groups[0].commit()
    _deliver(staged, groups[0], groups[1:])
    _agree(groups)
    assert groups[0].tree.member_leaf(2).encryption_key != old_key
    # Leaf 2 must still be able to decrypt path secrets with its new leaf key.
    _deliver(groups[1].commit(force_path=True), groups[1], [groups[0], groups[2]])
    _agree(groups)


def test_public_handshake_messages_and_gce() -> None:
    groups = _new_group(2, GroupConfig(encrypt_handshake=False))
    ext = groups[0].extensions
    staged = groups[0].commit([Proposal.group_context_extensions(ext)])
    _deliver(staged, groups[0], groups[1:])
    _agree(groups)


def test_state_survives_serialisation() -> None:
    groups = _new_group(3)
    groups[1].process_message(groups[0].encrypt_application(b"one"))
    restored = Group.from_bytes(groups[1].to_bytes())
    assert restored.to_bytes() == groups[1].to_bytes()
    later = groups[0].encrypt_application(b"two")
    got = restored.process_message(later)
    assert isinstance(got, ApplicationMessage) and got.data == b"two"
    staged = groups[2].commit(force_path=True)
    _deliver(staged, groups[2], [groups[0], restored])
    _agree([groups[0], restored, groups[2]])


def test_late_application_message_from_past_epoch() -> None:
    groups = _new_group(2, GroupConfig(max_past_epochs=2))
    late = groups[1].encrypt_application(b"late")
    old_epoch = groups[0].epoch
    for _ in range(2):
        _deliver(groups[0].commit(force_path=True), groups[0], groups[1:])
    got = groups[0].process_message(late)
    assert isinstance(got, ApplicationMessage) and got.epoch == old_epoch
    with pytest.raises(GenerationError):
        groups[0].process_message(late)
    too_old = groups[1].encrypt_application(b"too old")
    for _ in range(3):
        _deliver(groups[0].commit(force_path=True), groups[0], groups[1:])
    with pytest.raises(EpochError):
        groups[0].process_message(too_old)


def test_commit_referencing_unknown_proposal_rejected() -> None:
    groups = _new_group(2, GroupConfig(encrypt_handshake=False))
    staged = groups[0].commit(force_path=True)
    assert staged.message is not None
    body = staged.message.body
    commit = body.content.commit  # type: ignore[union-attr]
    assert isinstance(commit, Commit)
    bogus = replace(commit, proposals=(ProposalOrRef(reference=b"\x01" * 32),))
    tampered = replace(body, content=replace(body.content, commit=bogus))  # type: ignore[union-attr, type-var]
    with pytest.raises(MLSError):
        groups[1].process_message(MLSMessage.wrap(tampered))


def test_message_for_other_group_rejected() -> None:
    a = _new_group(2)
    b = _new_group(2)
    with pytest.raises(ValidationError, match="another group"):
        b[1].process_message(a[0].encrypt_application(b"x"))


def test_duplicate_add_rejected() -> None:
    groups = _new_group(2)
    bundle = _bundle("dup")
    with pytest.raises(ValidationError, match="same signature key"):
        groups[0].commit([Proposal.add(bundle.key_package), Proposal.add(bundle.key_package)])


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "update", "message", "propose_update", "swap", "external"]),
        st.integers(0, 99),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(2, 20), ops=OPS)
def test_members_stay_in_agreement(size: int, ops: list[tuple[str, int]]) -> None:
    groups = _new_group(size)
    counter = 0
    for op, pick in ops:
        active = [g for g in groups if g.active]
        actor = active[pick % len(active)]
        others = [g for g in active if g is not actor]
        if op == "add" and len(active) < 20:
            counter += 1
            bundle = _bundle(f"new{counter}")
            staged = actor.commit([Proposal.add(bundle.key_package)])
            _deliver(staged, actor, others)
            assert staged.welcome is not None
            groups.append(Group.join(staged.welcome, bundle))
        elif op == "remove" and others:
            victim = others[pick % len(others)]
            _deliver(actor.commit([Proposal.remove(victim.own_leaf_index)]), actor, others)
        elif op == "update":
            _deliver(actor.commit(force_path=True), actor, others)
        elif op == "propose_update" and others:
            proposal = actor.propose_update()
            for g in others:
                g.process_message(proposal)
            committer = others[pick % len(others)]
            _deliver(committer.commit(), committer, [g for g in active if g is not committer])
        elif op == "swap" and others:
            # One commit that removes a member and adds a newcomer, as XMTP membership changes do.
            counter += 1
            bundle = _bundle(f"new{counter}")
            victim = others[pick % len(others)]
            staged = actor.commit([Proposal.remove(victim.own_leaf_index), Proposal.add(bundle.key_package)])
            _deliver(staged, actor, others)
            assert staged.welcome is not None
            groups.append(Group.join(staged.welcome, bundle))
        elif op == "external" and len(active) < 20:
            counter += 1
            sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
            info = actor.export_group_info(with_external_pub=True)
            joined = join_by_external_commit(info, sk, Credential.basic(b"ext%d" % counter))
            for g in active:
                staged = g.process_message(joined.commit)
                assert isinstance(staged, StagedCommit)
                g.merge_staged_commit(staged)
            groups.append(joined.group)
        elif op == "message" and others:
            msg = actor.encrypt_application(b"m%d" % pick)
            for g in others:
                got = g.process_message(msg)
                assert isinstance(got, ApplicationMessage) and got.data == b"m%d" % pick
        _agree(groups)


def test_exported_group_info_verifies_and_matches_state() -> None:
    groups = _new_group(3)
    info = groups[1].export_group_info()
    info.verify(groups[1].suite, groups[1].tree.member_leaf(1).signature_key)
    assert info.group_context == groups[0].context
    assert info.signer == 1
    with pytest.raises(SignatureError):
        info.verify(groups[1].suite, groups[0].tree.member_leaf(0).signature_key)


def test_joiner_without_ratchet_tree_extension_needs_tree() -> None:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"c"), config=GroupConfig(ratchet_tree_extension=False))
    bundle = _bundle("j")
    staged = creator.commit([Proposal.add(bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    with pytest.raises(ValidationError, match="ratchet_tree"):
        Group.join(staged.welcome, bundle)
    joined = Group.join(staged.welcome, bundle, ratchet_tree=creator.tree)
    assert joined.epoch_authenticator == creator.epoch_authenticator


def test_state_bytes_reject_bad_version_and_truncation() -> None:
    data = _new_group(2)[1].to_bytes()
    with pytest.raises(DecodeError):
        Group.from_bytes(b"\x09" + data[1:])
    with pytest.raises(DecodeError):
        Group.from_bytes(data[:-1])
    with pytest.raises(DecodeError):
        Group.from_bytes(data + b"\x00")


def _caps(*extension_types: int) -> Capabilities:
    return Capabilities(cipher_suites=(SUITE,), extensions=extension_types)


def test_required_capabilities_enforced_on_add_and_gce() -> None:
    required = RequiredCapabilities(extension_types=(0xFF01,)).to_extension()
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(
        SUITE, sk, Credential.basic(b"c"), extensions=(required,), capabilities=_caps(0xFF01, 0xFF02)
    )
    lacking = _bundle("lacking")
    with pytest.raises(ValidationError, match="required extension"):
        creator.commit([Proposal.add(lacking.key_package)])
    sk2, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    capable = create_key_package(SUITE, sk2, Credential.basic(b"ok"), capabilities=_caps(0xFF01))
    staged = creator.commit([Proposal.add(capable.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    joiner = Group.join(staged.welcome, capable)
    # 0xFF02 is supported by the creator only, so a GCE adding it must fail for the joiner's leaf.
    gce = Proposal.group_context_extensions((required, Extension(0xFF02, b"x")))
    with pytest.raises(ValidationError, match="does not support extension"):
        creator.commit([gce])
    ok = Proposal.group_context_extensions((required, Extension(0xFF01, b"membership")))
    staged = creator.commit([ok])
    _deliver(staged, creator, [joiner])
    _agree([creator, joiner])
    assert find_extension(joiner.extensions, 0xFF01) == Extension(0xFF01, b"membership")


def test_joining_with_wrong_init_key_fails() -> None:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"c"))
    bundle = _bundle("j")
    staged = creator.commit([Proposal.add(bundle.key_package)])
    assert staged.welcome is not None
    wrong = replace(bundle, init_priv=bundle.encryption_priv)
    with pytest.raises(CryptoError):
        Group.join(staged.welcome, wrong)


def test_peek_sender_identifies_own_echo_without_consuming_keys() -> None:
    groups = _new_group(2)
    own = groups[0].encrypt_application(b"echo")
    assert groups[0].peek_sender(own) == Sender.member(0)
    assert groups[1].peek_sender(own) == Sender.member(0)
    got = groups[1].process_message(own)
    assert isinstance(got, ApplicationMessage) and got.data == b"echo"


def test_key_package_validation_failures() -> None:
    suite = get_cipher_suite(SUITE)
    bundle = _bundle("kp")
    kp = bundle.key_package
    kp.validate(suite)
    sig = kp.signature
    with pytest.raises(SignatureError):
        replace(kp, signature=sig[:-1] + bytes([sig[-1] ^ 1])).validate(suite)
    with pytest.raises(ValidationError, match="cipher suite"):
        kp.validate(get_cipher_suite(1))
    same_keys = replace(kp, init_key=kp.leaf_node.encryption_key).signed(suite, bundle.signature_priv)
    with pytest.raises(ValidationError, match="init_key"):
        same_keys.validate(suite)
    lifetime = kp.leaf_node.lifetime
    assert lifetime is not None
    with pytest.raises(ValidationError, match="lifetime"):
        kp.validate(suite, now=lifetime.not_after + 1)


def _replace_components(extensions: tuple[Extension, ...], updates: Sequence[Proposal]) -> tuple[Extension, ...]:
    """Test policy: an update replaces the component's data, a remove deletes it."""
    current = find_extension(extensions, EXT_APP_DATA_DICTIONARY)
    dictionary = AppDataDictionary.from_bytes(current.extension_data) if current else AppDataDictionary()
    for u in updates:
        dictionary = dictionary.with_component(u.component_id, u.app_data if u.app_data_op == 1 else None)
    others = tuple(e for e in extensions if e.extension_type != EXT_APP_DATA_DICTIONARY)
    return (*others, dictionary.to_extension())


def test_app_data_update_needs_updater_and_agrees() -> None:
    caps = Capabilities(cipher_suites=(SUITE,), extensions=(EXT_APP_DATA_DICTIONARY,), proposals=(APP_DATA_UPDATE,))
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"c"), capabilities=caps)
    sk2, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    bundle = create_key_package(SUITE, sk2, Credential.basic(b"j"), capabilities=caps)
    staged = creator.commit([Proposal.add(bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    joiner = Group.join(staged.welcome, bundle)
    update = Proposal(APP_DATA_UPDATE, component_id=0x8000, app_data_op=1, app_data=b"state-1")
    with pytest.raises(UnsupportedError):
        creator.commit([update])
    staged = creator.commit([update], app_data_updater=_replace_components)
    assert staged.message is not None
    snapshot = Group.from_bytes(joiner.to_bytes())  # decrypting consumes the key, so fail on a copy
    with pytest.raises(UnsupportedError):
        snapshot.process_message(staged.message)
    received = joiner.process_message(staged.message, app_data_updater=_replace_components)
    assert isinstance(received, StagedCommit)
    creator.merge_staged_commit(staged)
    joiner.merge_staged_commit(received)
    _agree([creator, joiner])
    ext = find_extension(joiner.extensions, EXT_APP_DATA_DICTIONARY)
    assert ext is not None and AppDataDictionary.from_bytes(ext.extension_data).get(0x8000) == b"state-1"


def test_app_data_dictionary_rejects_unsorted_ids() -> None:
    data = AppDataDictionary(((2, b"b"), (1, b"a"))).to_bytes()
    with pytest.raises(ValidationError):
        AppDataDictionary.from_bytes(data)


def test_committer_cannot_remove_itself() -> None:
    groups = _new_group(2)
    with pytest.raises(ValidationError, match="must not remove the committer"):
        groups[0].commit([Proposal.remove(0)])
    with pytest.raises(ValidationError, match="two Remove"):
        groups[0].commit([Proposal.remove(1), Proposal.remove(1)])


def test_external_commit_join() -> None:
    groups = _new_group(3)
    info = groups[1].export_group_info(with_external_pub=True)
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    joined = join_by_external_commit(info, sk, Credential.basic(b"outsider"))
    for g in groups:
        staged = g.process_message(joined.commit)
        assert isinstance(staged, StagedCommit)
        assert staged.committer_leaf == 3
        g.merge_staged_commit(staged)
    groups.append(joined.group)
    _agree(groups)
    msg = joined.group.encrypt_application(b"hi from outside")
    got = groups[0].process_message(msg)
    assert isinstance(got, ApplicationMessage) and got.sender == 3
    _deliver(groups[2].commit(force_path=True), groups[2], [g for g in groups if g is not groups[2]])
    _agree(groups)


def test_external_commit_needs_external_pub() -> None:
    groups = _new_group(2)
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    with pytest.raises(ValidationError, match="external_pub"):
        join_by_external_commit(groups[0].export_group_info(), sk, Credential.basic(b"x"))


def test_restored_state_keeps_skipped_keys_and_replay_protection() -> None:
    groups = _new_group(2)
    first, second, third = (groups[0].encrypt_application(b"%d" % i) for i in range(3))
    got = groups[1].process_message(third)
    assert isinstance(got, ApplicationMessage) and got.data == b"2"
    restored = Group.from_bytes(groups[1].to_bytes())
    got = restored.process_message(first)
    assert isinstance(got, ApplicationMessage) and got.data == b"0"
    with pytest.raises(GenerationError):
        restored.process_message(third)
    got = restored.process_message(second)
    assert isinstance(got, ApplicationMessage) and got.data == b"1"
