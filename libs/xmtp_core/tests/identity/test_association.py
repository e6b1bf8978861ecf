"""The association state machine: round trips build -> verify, and every forgery refused for its own reason."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import coincurve
import pytest
from xmtp_core.identity import (
    MAX_IDENTITY_UPDATES_PER_INBOX,
    MAX_INSTALLATIONS_PER_INBOX,
    AssociationError,
    AssociationState,
    EthereumAddress,
    InstallationKey,
    InstallationKeySigner,
    LocalWalletSigner,
    Rule,
    ScwVerification,
    UpdateBuilder,
    apply_update,
    apply_update_sync,
    build_add_installation,
    build_change_recovery,
    build_link_wallet,
    build_register,
    build_revoke_installation,
    build_unlink_wallet,
    check_can_append,
    diff,
    inbox_id,
    validate_append,
    validate_append_sync,
    verify_log,
    verify_log_entries,
    verify_log_sync,
)
from xmtp_core.identity.identifiers import MemberIdentifier
from xmtp_core.identity.signatures import address_from_public_key, eip191_hash, sign_eip191
from xmtp_core.protos.identity.associations import association_pb2 as pb

_clock = itertools.count(1_700_000_000_000_000_000, 1_000_000_000)


def now() -> int:
    """Distinct, increasing timestamps so every update has its own text."""
    return next(_clock)


def wallet(n: int) -> LocalWalletSigner:
    return LocalWalletSigner(hashlib.sha256(f"wallet {n}".encode()).digest())


def installation(n: int) -> InstallationKeySigner:
    return InstallationKeySigner(hashlib.sha256(f"installation {n}".encode()).digest())


class LyingSigner:
    """Claims one wallet's identifier but signs with another wallet's key."""

    def __init__(self, claimed: LocalWalletSigner, actual: LocalWalletSigner) -> None:
        self._claimed, self._actual = claimed, actual

    @property
    def identifier(self) -> EthereumAddress:
        return self._claimed.identifier

    async def sign(self, text: str) -> bytes:
        return await self._actual.sign(text)


def copy(update: pb.IdentityUpdate) -> pb.IdentityUpdate:
    clone = pb.IdentityUpdate()
    clone.CopyFrom(update)
    return clone


async def expect_rule(rule: Rule, state: AssociationState | None, update: pb.IdentityUpdate) -> None:
    with pytest.raises(AssociationError) as caught:
        await apply_update(state, update)
    assert caught.value.rule == rule, caught.value


Registered = tuple[LocalWalletSigner, InstallationKeySigner, pb.IdentityUpdate, AssociationState]


@pytest.fixture
async def registered() -> Registered:
    owner, first = wallet(1), installation(1)
    update = await build_register(owner, first, client_timestamp_ns=now())
    return owner, first, update, await verify_log([update])


# --- round trips -----------------------------------------------------------------------------------------------


async def test_register_matches_libxmtp_shape(registered: Registered) -> None:
    owner, first, update, state = registered
    assert update.inbox_id == inbox_id(owner.identifier, 1)
    assert [a.WhichOneof("kind") for a in update.actions] == ["create_inbox", "add"]
    create, add = update.actions[0].create_inbox, update.actions[1].add
    assert create.initial_identifier == owner.identifier.address
    assert create.nonce == 1
    assert create.initial_identifier_kind == pb.IDENTIFIER_KIND_ETHEREUM
    # One wallet signature, used twice (reference §2.4).
    assert create.initial_identifier_signature.erc_191.bytes == add.existing_member_signature.erc_191.bytes
    assert add.new_member_signature.installation_key.public_key == first.public_key
    assert add.new_member_identifier.installation_public_key == first.public_key

    assert state.inbox_id == update.inbox_id
    assert state.recovery_identifier == owner.identifier
    assert state.installation_keys() == [first.public_key]
    assert state.get(InstallationKey(first.public_key)).added_by == owner.identifier  # type: ignore[union-attr]
    assert state.get(owner.identifier).added_by is None  # type: ignore[union-attr]
    assert len(state.seen_signatures) == 2


async def test_register_round_trips_through_bytes(registered: Registered) -> None:
    _, _, update, state = registered
    again = await verify_log([pb.IdentityUpdate.FromString(update.SerializeToString())])
    assert again == state


async def test_nonce_zero_inbox() -> None:
    owner = wallet(2)
    update = await build_register(owner, installation(2), nonce=0, client_timestamp_ns=now())
    state = verify_log_sync([update])
    assert state.inbox_id == inbox_id(owner.identifier, 0)


async def test_full_lifecycle_and_diffs(registered: Registered) -> None:
    owner, first, _, state0 = registered
    second_wallet, phone, laptop = wallet(3), installation(2), installation(3)

    state1 = await apply_update(
        state0, await build_link_wallet(state0.inbox_id, owner, second_wallet, client_timestamp_ns=now())
    )
    assert state1.get(second_wallet.identifier).added_by == owner.identifier  # type: ignore[union-attr]
    # A linked wallet may add installations; an installation may add a wallet.
    state2 = await apply_update(
        state1, await build_add_installation(state1.inbox_id, second_wallet, phone, client_timestamp_ns=now())
    )
    state3 = await apply_update(
        state2, await build_add_installation(state2.inbox_id, owner, laptop, client_timestamp_ns=now())
    )
    assert set(state3.installation_keys()) == {first.public_key, phone.public_key, laptop.public_key}
    assert diff(state0, state3).new_installations == sorted(
        [phone.public_key, laptop.public_key], key=lambda k: k.hex()
    )

    # Unlinking the second wallet also removes the installation it added, but nothing else.
    state4 = await apply_update(
        state3,
        await build_unlink_wallet(state3.inbox_id, owner, second_wallet.identifier.address, client_timestamp_ns=now()),
    )
    change = diff(state3, state4)
    assert set(change.removed_members) == {second_wallet.identifier, InstallationKey(phone.public_key)}
    assert change.new_members == ()
    assert change.removed_installations == [phone.public_key]

    state5 = await apply_update(
        state4, await build_revoke_installation(state4.inbox_id, owner, first.public_key, client_timestamp_ns=now())
    )
    assert state5.installation_keys() == [laptop.public_key]
    assert diff(state4, state5).removed_installations == [first.public_key]


async def test_installation_may_link_a_wallet(registered: Registered) -> None:
    _, first, _, state = registered
    other = wallet(4)
    update = await build_link_wallet(state.inbox_id, first, other, client_timestamp_ns=now())
    after = await apply_update(state, update)
    assert after.get(other.identifier).added_by == InstallationKey(first.public_key)  # type: ignore[union-attr]


async def test_revoking_owner_removes_its_installations(registered: Registered) -> None:
    owner, _, _, state = registered
    update = await UpdateBuilder(state.inbox_id, now()).revoke(owner, owner.identifier).build()
    after = await apply_update(state, update)
    assert after.members == {}
    assert after.recovery_identifier == owner.identifier  # recovery stays; it can still add members
    readd = await build_add_installation(after.inbox_id, owner, installation(9), client_timestamp_ns=now())
    assert (await apply_update(after, readd)).installation_keys() == [installation(9).public_key]


async def test_change_recovery_moves_revocation_rights(registered: Registered) -> None:
    owner, first, _, state = registered
    new_recovery = wallet(5)
    state = await apply_update(
        state, await build_change_recovery(state.inbox_id, owner, new_recovery.identifier, client_timestamp_ns=now())
    )
    assert state.recovery_identifier == new_recovery.identifier
    # The new recovery wallet (not a member) may revoke and add; the old one may no longer revoke.
    await expect_rule(
        Rule.NOT_RECOVERY_IDENTIFIER,
        state,
        await build_revoke_installation(state.inbox_id, owner, first.public_key, client_timestamp_ns=now()),
    )
    state = await apply_update(
        state,
        await build_revoke_installation(state.inbox_id, new_recovery, first.public_key, client_timestamp_ns=now()),
    )
    assert state.installation_keys() == []
    added = await apply_update(
        state, await build_add_installation(state.inbox_id, new_recovery, installation(6), client_timestamp_ns=now())
    )
    assert added.get(InstallationKey(installation(6).public_key)).added_by == new_recovery.identifier  # type: ignore[union-attr]


async def test_verify_log_entries_orders_by_sequence_and_stops_at_sequence_id(registered: Registered) -> None:
    owner, _, register, state = registered
    add = await build_add_installation(state.inbox_id, owner, installation(7), client_timestamp_ns=now())

    @dataclass
    class Entry:
        sequence_id: int
        update: pb.IdentityUpdate

    entries = [Entry(20, add), Entry(10, register)]
    latest = await verify_log_entries(entries)
    assert len(latest.installation_keys()) == 2
    at_10 = await verify_log_entries(entries, up_to_sequence_id=10)
    assert at_10 == state


def test_state_to_proto(registered: Registered) -> None:
    owner, _, _, state = registered
    proto = state.to_proto()
    assert proto.inbox_id == state.inbox_id
    assert proto.recovery_identifier == owner.identifier.address
    assert {m.key.WhichOneof("kind") for m in proto.members} == {"ethereum_address", "installation_public_key"}
    assert len(proto.seen_signatures) == 2


# --- forgeries -------------------------------------------------------------------------------------------------


async def test_changed_nonce_is_refused(registered: Registered) -> None:
    _, _, update, _ = registered
    forged = copy(update)
    forged.actions[0].create_inbox.nonce = 2  # the text does not contain the nonce, the inbox id does
    await expect_rule(Rule.WRONG_INBOX_ID, None, forged)


async def test_changed_nonce_with_matching_inbox_id_is_refused(registered: Registered) -> None:
    owner, _, update, _ = registered
    forged = copy(update)
    forged.actions[0].create_inbox.nonce = 2
    forged.inbox_id = inbox_id(owner.identifier, 2)  # now the signed text differs
    # Every signature is checked before any rule: the installation's Ed25519ph signature fails first.
    await expect_rule(Rule.INVALID_SIGNATURE, None, forged)
    create_only = await UpdateBuilder(inbox_id(owner.identifier, 1), now()).create_inbox(owner, 1).build()
    create_only.actions[0].create_inbox.nonce = 2
    create_only.inbox_id = inbox_id(owner.identifier, 2)
    # The wallet's ECDSA signature over the old text recovers some other address.
    await expect_rule(Rule.CREATE_SIGNER_MISMATCH, None, create_only)


async def test_changed_timestamp_is_refused(registered: Registered) -> None:
    owner, _, update, _ = registered
    forged = copy(update)
    forged.client_timestamp_ns += 1_000_000_000
    await expect_rule(Rule.INVALID_SIGNATURE, None, forged)
    create_only = await UpdateBuilder(inbox_id(owner.identifier, 1), now()).create_inbox(owner, 1).build()
    create_only.client_timestamp_ns += 1_000_000_000
    await expect_rule(Rule.CREATE_SIGNER_MISMATCH, None, create_only)


async def test_create_signed_by_wrong_wallet_is_refused() -> None:
    update = await build_register(LyingSigner(wallet(1), wallet(2)), installation(1), client_timestamp_ns=now())
    await expect_rule(Rule.CREATE_SIGNER_MISMATCH, None, update)


async def test_upper_case_owner_on_the_wire_is_refused() -> None:
    """A client that signs consistently but puts a non-lower-case address on the wire is refused, as in
    libxmtp: the recovered signer is always lower case and identifiers from the wire are not normalised."""
    owner = wallet(1)

    class UpperCaseOwner:
        identifier = EthereumAddress("0x" + owner.identifier.address[2:].upper())

        async def sign(self, text: str) -> bytes:
            return await owner.sign(text)

    update = await build_register(UpperCaseOwner(), installation(1), client_timestamp_ns=now())
    await expect_rule(Rule.CREATE_SIGNER_MISMATCH, None, update)


async def test_swapped_installation_key_is_refused(registered: Registered) -> None:
    _, _, update, _ = registered
    forged = copy(update)
    forged.actions[1].add.new_member_identifier.installation_public_key = installation(2).public_key
    await expect_rule(Rule.INVALID_SIGNATURE, None, forged)
    forged.actions[1].add.new_member_signature.installation_key.public_key = installation(2).public_key
    await expect_rule(Rule.INVALID_SIGNATURE, None, forged)


async def test_installation_signature_from_other_key_is_refused(registered: Registered) -> None:
    _, _, update, _ = registered
    forged = copy(update)
    text_signer = installation(2)  # signs the right text but for a different key than the one added
    from xmtp_core.identity.codec import decode_update

    forged.actions[1].add.new_member_signature.installation_key.bytes = text_signer.sign_sync(
        decode_update(update).text()
    )
    forged.actions[1].add.new_member_signature.installation_key.public_key = text_signer.public_key
    await expect_rule(Rule.NEW_MEMBER_SIGNATURE_MISMATCH, None, forged)


async def test_replayed_update_is_refused(registered: Registered) -> None:
    owner, _, register, state = registered
    await expect_rule(Rule.MULTIPLE_CREATE, state, register)
    add = await build_add_installation(state.inbox_id, owner, installation(2), client_timestamp_ns=now())
    after = await apply_update(state, add)
    await expect_rule(Rule.REPLAY, after, add)
    revoke = await build_revoke_installation(
        state.inbox_id, owner, installation(2).public_key, client_timestamp_ns=now()
    )
    revoked = await apply_update(after, revoke)
    await expect_rule(Rule.REPLAY, revoked, revoke)


async def test_replay_with_another_v_encoding_is_not_detected_like_libxmtp(registered: Registered) -> None:
    """Known libxmtp behaviour we mirror: the seen-signature set holds the raw bytes with v as sent, so the
    same (r, s) re-sent with v = 0/1 instead of 27/28 is not recognised as a replay."""
    owner, _, _, state = registered
    change = await build_change_recovery(state.inbox_id, owner, owner.identifier, client_timestamp_ns=now())
    after = await apply_update(state, change)
    await expect_rule(Rule.REPLAY, after, change)
    reencoded = copy(change)
    signature = reencoded.actions[0].change_recovery_address.existing_recovery_identifier_signature.erc_191
    signature.bytes = signature.bytes[:64] + bytes([signature.bytes[64] - 27])
    assert (await apply_update(after, reencoded)).recovery_identifier == owner.identifier


async def test_add_before_create_is_refused(registered: Registered) -> None:
    owner, _, _, state = registered
    add = await build_add_installation(state.inbox_id, owner, installation(2), client_timestamp_ns=now())
    await expect_rule(Rule.NOT_CREATED, None, add)


async def test_empty_update_is_refused() -> None:
    await expect_rule(Rule.NOT_CREATED, None, pb.IdentityUpdate(inbox_id="ab", client_timestamp_ns=1))


async def test_update_for_another_inbox_is_refused(registered: Registered) -> None:
    owner, _, _, state = registered
    other_inbox = inbox_id(owner.identifier, 77)
    add = await build_add_installation(other_inbox, owner, installation(2), client_timestamp_ns=now())
    await expect_rule(Rule.WRONG_INBOX_ID, state, add)


async def test_stranger_cannot_add(registered: Registered) -> None:
    _, _, _, state = registered
    add = await build_add_installation(state.inbox_id, wallet(9), installation(2), client_timestamp_ns=now())
    await expect_rule(Rule.NOT_A_MEMBER, state, add)


async def test_installation_cannot_add_installation(registered: Registered) -> None:
    _, first, _, state = registered
    add = await build_add_installation(state.inbox_id, first, installation(2), client_timestamp_ns=now())
    await expect_rule(Rule.INSTALLATION_ADDS_INSTALLATION, state, add)


async def test_member_cannot_add_itself(registered: Registered) -> None:
    owner, _, _, state = registered
    update = await UpdateBuilder(state.inbox_id, now()).add_association(owner, owner).build()
    await expect_rule(Rule.ADD_SELF, state, update)


async def test_new_member_must_sign_for_itself(registered: Registered) -> None:
    owner, _, _, state = registered
    impostor = LyingSigner(wallet(3), wallet(4))
    update = await build_link_wallet(state.inbox_id, owner, impostor, client_timestamp_ns=now())
    await expect_rule(Rule.NEW_MEMBER_SIGNATURE_MISMATCH, state, update)


async def test_revoke_by_non_recovery_member_is_refused(registered: Registered) -> None:
    owner, first, _, state = registered
    linked = wallet(3)
    state = await apply_update(state, await build_link_wallet(state.inbox_id, owner, linked, client_timestamp_ns=now()))
    for revoker in (linked, first):
        revoke = await build_revoke_installation(state.inbox_id, revoker, first.public_key, client_timestamp_ns=now())
        await expect_rule(Rule.NOT_RECOVERY_IDENTIFIER, state, revoke)


async def test_change_recovery_by_non_recovery_is_refused(registered: Registered) -> None:
    owner, _, _, state = registered
    linked = wallet(3)
    state = await apply_update(state, await build_link_wallet(state.inbox_id, owner, linked, client_timestamp_ns=now()))
    change = await build_change_recovery(state.inbox_id, linked, linked.identifier, client_timestamp_ns=now())
    await expect_rule(Rule.NOT_RECOVERY_IDENTIFIER, state, change)


async def test_second_create_inside_one_update_is_refused() -> None:
    owner = wallet(1)
    update = (
        await UpdateBuilder(inbox_id(owner.identifier, 1), now()).create_inbox(owner, 1).create_inbox(owner, 1).build()
    )
    await expect_rule(Rule.MULTIPLE_CREATE, None, update)


async def test_passkey_identifier_must_be_strict_hex(registered: Registered) -> None:
    owner, _, _, state = registered
    change = await build_change_recovery(state.inbox_id, owner, owner.identifier, client_timestamp_ns=now())
    change.actions[0].change_recovery_address.new_recovery_identifier_kind = pb.IDENTIFIER_KIND_PASSKEY
    change.actions[0].change_recovery_address.new_recovery_identifier = "02 ab"  # bytes.fromhex would accept it
    await expect_rule(Rule.MALFORMED_UPDATE, state, change)


async def test_missing_signature_is_malformed(registered: Registered) -> None:
    _, _, update, _ = registered
    forged = copy(update)
    forged.actions[1].add.ClearField("new_member_signature")
    await expect_rule(Rule.MALFORMED_UPDATE, None, forged)
    forged = copy(update)
    forged.actions.add()  # an action with no kind
    await expect_rule(Rule.MALFORMED_UPDATE, None, forged)


async def test_bad_signature_bytes_are_invalid(registered: Registered) -> None:
    _, _, update, _ = registered
    forged = copy(update)
    forged.actions[0].create_inbox.initial_identifier_signature.erc_191.bytes = b"\x01" * 64
    await expect_rule(Rule.INVALID_SIGNATURE, None, forged)


# --- limits ----------------------------------------------------------------------------------------------------


async def _inbox_with_installations(count: int) -> tuple[LocalWalletSigner, list[pb.IdentityUpdate], AssociationState]:
    owner = wallet(1)
    log = [await build_register(owner, installation(0), client_timestamp_ns=now())]
    state = await verify_log(log)
    for n in range(1, count):
        log.append(await build_add_installation(state.inbox_id, owner, installation(n), client_timestamp_ns=now()))
        state = await apply_update(state, log[-1])
    return owner, log, state


async def test_eleventh_installation() -> None:
    owner, log, state = await _inbox_with_installations(MAX_INSTALLATIONS_PER_INBOX)
    assert len(state.installation_keys()) == 10
    # libxmtp's client refuses to build it ...
    with pytest.raises(AssociationError) as caught:
        await build_add_installation(state.inbox_id, owner, installation(10), state=state)
    assert caught.value.rule == Rule.TOO_MANY_INSTALLATIONS
    # ... and a policy-enforcing verifier refuses it; plain replay (like libxmtp's) accepts it.
    eleventh = await build_add_installation(state.inbox_id, owner, installation(10), client_timestamp_ns=now())
    with pytest.raises(AssociationError) as caught:
        await apply_update(state, eleventh, max_installations=MAX_INSTALLATIONS_PER_INBOX)
    assert caught.value.rule == Rule.TOO_MANY_INSTALLATIONS
    with pytest.raises(AssociationError):
        verify_log_sync([*log, eleventh], max_installations=MAX_INSTALLATIONS_PER_INBOX)
    assert len(apply_update_sync(state, eleventh).installation_keys()) == 11
    # Freeing a slot makes room again.
    revoke = await build_revoke_installation(
        state.inbox_id, owner, installation(3).public_key, client_timestamp_ns=now()
    )
    freed = await apply_update(state, revoke, max_installations=MAX_INSTALLATIONS_PER_INBOX)
    assert len((await apply_update(freed, eleventh, max_installations=10)).installation_keys()) == 10


async def test_257th_update() -> None:
    owner = wallet(1)
    log = [await build_register(owner, installation(0), client_timestamp_ns=now())]
    state = await verify_log(log)
    while len(log) < MAX_IDENTITY_UPDATES_PER_INBOX:
        # Cheap valid updates: the recovery wallet re-asserts itself as recovery identifier.
        log.append(await build_change_recovery(state.inbox_id, owner, owner.identifier, client_timestamp_ns=now()))
    assert len(verify_log_sync(log).seen_signatures) == 2 + 255
    check_can_append(len(log) - 1)
    with pytest.raises(AssociationError) as caught:
        check_can_append(len(log))
    assert caught.value.rule == Rule.TOO_MANY_UPDATES
    extra = await build_change_recovery(state.inbox_id, owner, owner.identifier, client_timestamp_ns=now())
    with pytest.raises(AssociationError) as caught:
        await verify_log([*log, extra])
    assert caught.value.rule == Rule.TOO_MANY_UPDATES


# --- smart-contract wallets ------------------------------------------------------------------------------------


class FakeScwSigner:
    """A smart-contract wallet on `chain_id`; its "signature" is an EOA owner's signature over the text."""

    def __init__(self, address: str, owner: LocalWalletSigner, chain_id: int) -> None:
        self._address, self._owner, self._chain_id = EthereumAddress(address), owner, chain_id

    @property
    def identifier(self) -> EthereumAddress:
        return self._address

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def block_number(self) -> int:
        return 1234

    async def sign(self, text: str) -> bytes:
        return await self._owner.sign(text)


class FakeChain:
    """Plays the node's verifier: valid if the wallet's owner EOA signed exactly `message_hash` at block 1234."""

    def __init__(self, owner: LocalWalletSigner) -> None:
        self.owner = owner

    async def __call__(
        self, account_id: str, message_hash: bytes, signature: bytes, block_number: int | None
    ) -> ScwVerification:
        recovered = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), message_hash, hasher=None
        )
        owner_ok = address_from_public_key(recovered.format()) == self.owner.identifier
        return ScwVerification(owner_ok and block_number == 1234, block_number, None if owner_ok else "not owner")


async def test_smart_contract_wallet_inbox_and_chain_id_rule() -> None:
    eoa = wallet(8)
    scw = FakeScwSigner("0x" + "5c" * 20, eoa, chain_id=8453)
    update = await build_register(scw, installation(1), client_timestamp_ns=now())
    assert (
        update.actions[0].create_inbox.initial_identifier_signature.erc_6492.account_id == f"eip155:8453:0x{'5c' * 20}"
    )

    with pytest.raises(AssociationError) as caught:
        await verify_log([update])
    assert caught.value.rule == Rule.SCW_VERIFIER_REQUIRED
    with pytest.raises(AssociationError) as caught:
        verify_log_sync([update])
    assert caught.value.rule == Rule.SCW_VERIFIER_REQUIRED

    state = await verify_log([update], scw_verifier=FakeChain(eoa))
    assert state.get(scw.identifier).added_on_chain_id == 8453  # type: ignore[union-attr]

    same_chain = await build_add_installation(state.inbox_id, scw, installation(2), client_timestamp_ns=now())
    assert len((await apply_update(state, same_chain, scw_verifier=FakeChain(eoa))).installation_keys()) == 2
    other_chain = FakeScwSigner(scw.identifier.address, eoa, chain_id=1)
    moved = await build_add_installation(state.inbox_id, other_chain, installation(3), client_timestamp_ns=now())
    with pytest.raises(AssociationError) as caught:
        await apply_update(state, moved, scw_verifier=FakeChain(eoa))
    assert caught.value.rule == Rule.CHAIN_ID_MISMATCH


# --- passkeys ----------------------------------------------------------------------------------------------------


async def test_passkey_owned_inbox() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from xmtp_core.identity import Passkey
    from xmtp_core.identity.codec import DecodedUpdate, SignedAddAssociation, SignedCreateInbox, encode_update
    from xmtp_core.identity.signature_text import UnsignedAddAssociation, UnsignedCreateInbox
    from xmtp_core.identity.signatures import InstallationKeySignature, PasskeySignature

    from .test_signatures import make_passkey_signature

    private = ec.generate_private_key(ec.SECP256R1())
    key = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    owner = Passkey(key, "https://app.example")
    device = installation(1)
    placeholder = PasskeySignature(b"", b"", b"", b"")
    unsigned = DecodedUpdate(
        inbox_id(owner, 1),
        now(),
        (
            SignedCreateInbox(UnsignedCreateInbox(owner, 1), placeholder),
            SignedAddAssociation(UnsignedAddAssociation(device.identifier), placeholder, placeholder),
        ),
    )
    text = unsigned.text()
    assert f"(Owner: {key.hex()})" in text
    passkey_sig = make_passkey_signature(private, text, "https://app.example")
    device_sig = InstallationKeySignature(device.sign_sync(text), device.public_key)
    signed = DecodedUpdate(
        unsigned.inbox_id,
        unsigned.client_timestamp_ns,
        (
            SignedCreateInbox(UnsignedCreateInbox(owner, 1), passkey_sig),
            SignedAddAssociation(UnsignedAddAssociation(device.identifier), passkey_sig, device_sig),
        ),
    )
    proto = encode_update(signed)
    assert proto.actions[0].create_inbox.initial_identifier_kind == pb.IDENTIFIER_KIND_PASSKEY
    state = await verify_log([proto])
    assert state.recovery_identifier == owner
    assert state.installation_keys() == [device.public_key]
    member: MemberIdentifier = next(m for m in state.members if isinstance(m, Passkey))
    assert isinstance(member, Passkey)


def test_eoa_signatures_bind_to_text() -> None:
    """Sanity: the helper keys sign deterministically (RFC 6979), so timestamps alone separate updates."""
    text = "XMTP : Authenticate to inbox"
    key = hashlib.sha256(b"wallet 1").digest()
    assert sign_eip191(key, text) == sign_eip191(key, text)
    assert eip191_hash(text) != eip191_hash(text + " ")


# --- node-side helpers ------------------------------------------------------------------------------------------


async def test_state_survives_a_proto_round_trip(registered: Registered) -> None:
    owner, _, _, state = registered
    linked = wallet(3)
    state = await apply_update(state, await build_link_wallet(state.inbox_id, owner, linked, client_timestamp_ns=now()))
    again = AssociationState.from_proto(pb.AssociationState.FromString(state.to_proto().SerializeToString()))
    assert again == state
    assert again.get(linked.identifier) == state.get(linked.identifier)


async def test_validate_append_is_the_publish_check(registered: Registered) -> None:
    owner, _, register, _ = registered
    first = validate_append_sync([], register)
    assert first.previous is None
    assert set(first.diff.new_identifiers) == {owner.identifier}
    assert len(first.diff.new_installations) == 1

    linked = wallet(3)
    link = await build_link_wallet(register.inbox_id, owner, linked, client_timestamp_ns=now())
    appended = await validate_append([register], link)
    assert appended.diff.new_identifiers == [linked.identifier]
    unlink = await build_unlink_wallet(register.inbox_id, owner, linked.identifier.address, client_timestamp_ns=now())
    assert validate_append_sync([register, link], unlink).diff.removed_identifiers == [linked.identifier]

    with pytest.raises(AssociationError) as caught:
        validate_append_sync([register, link], link)
    assert caught.value.rule == Rule.REPLAY
    with pytest.raises(AssociationError) as caught:
        validate_append_sync([register] * MAX_IDENTITY_UPDATES_PER_INBOX, link)
    assert caught.value.rule == Rule.TOO_MANY_UPDATES
