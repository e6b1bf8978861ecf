"""IdentityApi over real gRPC and Postgres: signed updates built with `xmtp_core.identity` are accepted, forged
ones are refused with the broken rule, GetInboxIds follows links/unlinks, and the verified-state cache."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
from xmtp_core.identity import (
    EthereumAddress,
    InstallationKeySigner,
    LocalWalletSigner,
    MemberIdentifier,
    UpdateBuilder,
    build_add_installation,
    build_change_recovery,
    build_link_wallet,
    build_register,
    build_revoke_installation,
    build_unlink_wallet,
    inbox_id,
)
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.api.v1.identity_pb2_grpc import IdentityApiStub
from xmtp_core.protos.identity.associations import association_pb2 as assoc

ETH = assoc.IDENTIFIER_KIND_ETHEREUM


@dataclass
class FixedSigner:
    """Claims `identifier` but answers every request with the same signature bytes (a forger's tool)."""

    identifier: MemberIdentifier
    signature: bytes

    async def sign(self, text: str) -> bytes:
        return self.signature


@dataclass
class ContractWallet:
    """A smart-contract wallet signer; its signature could only be checked on a chain."""

    identifier: EthereumAddress
    chain_id: int = 1
    block_number: int = 1

    async def sign(self, text: str) -> bytes:
        return b"\x01" * 65


@dataclass
class Inbox:
    id: str
    wallet: LocalWalletSigner
    installation: InstallationKeySigner


async def publish(identity: IdentityApiStub, upd: assoc.IdentityUpdate) -> None:
    await identity.PublishIdentityUpdate(identity_pb2.PublishIdentityUpdateRequest(identity_update=upd))


async def refused(identity: IdentityApiStub, upd: assoc.IdentityUpdate) -> str:
    """Publish an update that must be refused; returns the INVALID_ARGUMENT details."""
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await publish(identity, upd)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return excinfo.value.details() or ""


async def register(identity: IdentityApiStub, wallet: LocalWalletSigner | None = None) -> Inbox:
    wallet = wallet or LocalWalletSigner.generate()
    installation = InstallationKeySigner.generate()
    reg = await build_register(wallet, installation)
    await publish(identity, reg)
    return Inbox(reg.inbox_id, wallet, installation)


async def lookup(identity: IdentityApiStub, *identifiers: str) -> list[str | None]:
    Req = identity_pb2.GetInboxIdsRequest.Request
    resp = await identity.GetInboxIds(
        identity_pb2.GetInboxIdsRequest(requests=[Req(identifier=i, identifier_kind=ETH) for i in identifiers])
    )
    assert [r.identifier for r in resp.responses] == list(identifiers)
    return [r.inbox_id if r.HasField("inbox_id") else None for r in resp.responses]


async def log_of(identity: IdentityApiStub, inbox: str, sequence_id: int = 0) -> list[assoc.IdentityUpdate]:
    Req = identity_pb2.GetIdentityUpdatesRequest.Request
    resp = await identity.GetIdentityUpdates(
        identity_pb2.GetIdentityUpdatesRequest(requests=[Req(inbox_id=inbox, sequence_id=sequence_id)])
    )
    assert [r.inbox_id for r in resp.responses] == [inbox]
    return [u.update for u in resp.responses[0].updates]


def address(signer: LocalWalletSigner) -> str:
    return signer.identifier.address


_seconds = itertools.count()


def ts() -> int:
    """A fresh client timestamp, a whole second after the last one.

    The signature text has second resolution and ECDSA signing is deterministic, so the same action signed
    twice in one second is the same signature, which the node rightly refuses as a replay.
    """
    return time.time_ns() + next(_seconds) * 1_000_000_000


# --- valid updates -------------------------------------------------------------------------------------------


async def test_builder_made_updates_are_accepted_and_served_back(identity: IdentityApiStub) -> None:
    wallet, installation = LocalWalletSigner.generate(), InstallationKeySigner.generate()
    inbox = inbox_id(wallet.identifier, 1)
    assert await lookup(identity, address(wallet)) == [None]
    assert await log_of(identity, inbox) == []
    second, other_wallet = InstallationKeySigner.generate(), LocalWalletSigner.generate()
    updates = [
        await build_register(wallet, installation, nonce=1),
        await build_add_installation(inbox, wallet, second),
        await build_link_wallet(inbox, wallet, other_wallet),
        await build_revoke_installation(inbox, wallet, second.public_key),
        await build_change_recovery(inbox, wallet, other_wallet.identifier),
        await build_unlink_wallet(inbox, other_wallet, address(wallet)),
    ]
    for upd in updates:
        await publish(identity, upd)
    assert await log_of(identity, inbox) == updates
    # The recovery wallet (now other_wallet) unlinked the creator: only other_wallet still resolves.
    assert await lookup(identity, address(wallet), address(other_wallet)) == [None, inbox]


async def test_get_identity_updates_keeps_request_order(identity: IdentityApiStub) -> None:
    first, second = await register(identity), await register(identity)
    Req = identity_pb2.GetIdentityUpdatesRequest.Request
    wanted = [second.id, "f" * 64, first.id]
    resp = await identity.GetIdentityUpdates(
        identity_pb2.GetIdentityUpdatesRequest(requests=[Req(inbox_id=i) for i in wanted])
    )
    assert [r.inbox_id for r in resp.responses] == wanted
    assert [len(r.updates) for r in resp.responses] == [1, 0, 1]


# --- forged updates ------------------------------------------------------------------------------------------


async def test_changed_nonce_is_refused(identity: IdentityApiStub) -> None:
    wallet = LocalWalletSigner.generate()
    reg = await build_register(wallet, InstallationKeySigner.generate(), nonce=1)
    reg.actions[0].create_inbox.nonce = 2
    reg.inbox_id = inbox_id(wallet.identifier, 2)
    # The installation's Ed25519ph signature covers the nonce-1 text and fails outright...
    assert (await refused(identity, reg)).startswith("invalid_signature:")
    # ...and the wallet's ECDSA signature now recovers some other address, so CreateInbox has the wrong signer.
    create_only = await UpdateBuilder(inbox_id(wallet.identifier, 1)).create_inbox(wallet, 1).build()
    create_only.actions[0].create_inbox.nonce = 2
    create_only.inbox_id = reg.inbox_id
    assert (await refused(identity, create_only)).startswith("create_signer_mismatch:")
    assert await log_of(identity, reg.inbox_id) == []
    assert await lookup(identity, address(wallet)) == [None]


async def test_create_signed_by_another_wallet_is_refused(identity: IdentityApiStub) -> None:
    victim, forger = LocalWalletSigner.generate(), LocalWalletSigner.generate()
    forged_sig = await forger.sign("anything")
    reg = await build_register(FixedSigner(victim.identifier, forged_sig), InstallationKeySigner.generate())
    assert (await refused(identity, reg)).startswith("create_signer_mismatch:")
    assert await lookup(identity, address(victim)) == [None]


async def test_add_signed_by_a_non_member_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    stranger = LocalWalletSigner.generate()
    upd = await build_add_installation(inbox.id, stranger, InstallationKeySigner.generate())
    assert (await refused(identity, upd)).startswith("existing_signer_not_a_member:")
    assert len(await log_of(identity, inbox.id)) == 1


async def test_unlink_by_a_wallet_that_is_not_recovery_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    linked = LocalWalletSigner.generate()
    await publish(identity, await build_link_wallet(inbox.id, inbox.wallet, linked))
    upd = await build_unlink_wallet(inbox.id, linked, address(inbox.wallet))
    assert (await refused(identity, upd)).startswith("signer_not_recovery_identifier:")
    assert await lookup(identity, address(inbox.wallet)) == [inbox.id]


async def test_swapped_installation_key_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    genuine = await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate())
    wallet_sig = genuine.actions[0].add.existing_member_signature.erc_191.bytes
    # The attacker keeps the owner's wallet signature but puts in (and signs for) their own installation.
    attacker = InstallationKeySigner.generate()
    forged = (
        await UpdateBuilder(inbox.id, genuine.client_timestamp_ns)
        .add_association(FixedSigner(inbox.wallet.identifier, wallet_sig), attacker)
        .build()
    )
    assert forged.actions[0].add.new_member_identifier.installation_public_key == attacker.public_key
    assert (await refused(identity, forged)).startswith("existing_signer_not_a_member:")
    # Swapping only the identifier leaves the installation's own signature invalid.
    genuine.actions[0].add.new_member_identifier.installation_public_key = attacker.public_key
    assert (await refused(identity, genuine)).startswith("invalid_signature:")
    assert len(await log_of(identity, inbox.id)) == 1


async def test_replayed_update_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    add = await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate())
    await publish(identity, add)
    assert (await refused(identity, add)).startswith("replayed_signature:")
    reg = (await log_of(identity, inbox.id))[0]
    assert (await refused(identity, reg)).startswith("multiple_create:")
    assert len(await log_of(identity, inbox.id)) == 2


async def test_update_naming_another_inbox_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    wallet = LocalWalletSigner.generate()
    # Correctly signed, but CreateInbox on an inbox that exists.
    hijack = await UpdateBuilder(inbox.id).create_inbox(wallet, 1).build()
    assert (await refused(identity, hijack)).startswith("multiple_create:")
    # A new inbox whose id is not sha256(identifier ‖ nonce).
    misnamed = await UpdateBuilder("b" * 64).create_inbox(wallet, 1).build()
    assert (await refused(identity, misnamed)).startswith("wrong_inbox_id:")
    # A genuine registration re-addressed to another inbox no longer matches its signed text.
    reg = await build_register(wallet, InstallationKeySigner.generate())
    own_inbox, reg.inbox_id = reg.inbox_id, inbox.id
    assert (await refused(identity, reg)).startswith("invalid_signature:")
    assert await log_of(identity, own_inbox) == await log_of(identity, "b" * 64) == []
    assert len(await log_of(identity, inbox.id)) == 1


async def test_the_257th_update_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    for _ in range(255):
        await publish(
            identity,
            await build_change_recovery(inbox.id, inbox.wallet, inbox.wallet.identifier, client_timestamp_ns=ts()),
        )
    upd = await build_change_recovery(inbox.id, inbox.wallet, inbox.wallet.identifier, client_timestamp_ns=ts())
    reason = await refused(identity, upd)
    assert reason.startswith("too_many_identity_updates:") and "256" in reason
    assert len(await log_of(identity, inbox.id)) == 256


async def test_an_11th_installation_is_refused(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    extra = [InstallationKeySigner.generate() for _ in range(9)]
    for installation in extra:
        await publish(identity, await build_add_installation(inbox.id, inbox.wallet, installation))
    eleventh = await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate())
    reason = await refused(identity, eleventh)
    assert reason.startswith("too_many_installations:") and "limit 10" in reason
    # Revoking one makes room again.
    await publish(identity, await build_revoke_installation(inbox.id, inbox.wallet, extra[0].public_key))
    await publish(identity, eleventh)


async def test_smart_contract_wallet_signatures_are_refused(identity: IdentityApiStub) -> None:
    scw = ContractWallet(EthereumAddress("0x" + "5c" * 20))
    reg = await build_register(scw, InstallationKeySigner.generate())
    reason = await refused(identity, reg)
    assert reason.startswith("smart_contract_wallet_verifier_required:") and "no chain access" in reason
    assert await log_of(identity, reg.inbox_id) == []


async def test_smart_contract_wallet_verification_rpc_answers_invalid(identity: IdentityApiStub) -> None:
    Sig = identity_pb2.VerifySmartContractWalletSignatureRequestSignature
    resp = await identity.VerifySmartContractWalletSignatures(
        identity_pb2.VerifySmartContractWalletSignaturesRequest(signatures=[Sig(account_id="eip155:1:0xabc")])
    )
    assert [(r.is_valid, r.HasField("error")) for r in resp.responses] == [(False, True)]


@pytest.mark.parametrize(
    ("upd", "reason"),
    [
        (assoc.IdentityUpdate(inbox_id="a" * 64), "malformed_update: the update has no actions"),
        (assoc.IdentityUpdate(inbox_id="a" * 64, actions=[assoc.IdentityAction()]), "malformed_update:"),
        (
            assoc.IdentityUpdate(
                inbox_id="a" * 64,
                actions=[assoc.IdentityAction(create_inbox=assoc.CreateInbox(initial_identifier="0x12", nonce=1))],
            ),
            "malformed_update:",
        ),
        (assoc.IdentityUpdate(), "identity_update.inbox_id '' is not 64 lowercase hex"),
    ],
)
async def test_malformed_updates_are_refused(identity: IdentityApiStub, upd: assoc.IdentityUpdate, reason: str) -> None:
    assert reason in await refused(identity, upd)


async def test_missing_update_is_invalid(identity: IdentityApiStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await identity.PublishIdentityUpdate(identity_pb2.PublishIdentityUpdateRequest())
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# --- GetInboxIds ---------------------------------------------------------------------------------------------


async def test_inbox_ids_follow_link_unlink_and_relink(identity: IdentityApiStub) -> None:
    first, second = await register(identity), await register(identity)
    roaming = LocalWalletSigner.generate()
    upper = "0x" + address(first.wallet)[2:].upper()
    assert await lookup(identity, address(first.wallet), upper, address(roaming)) == [first.id, first.id, None]

    async def link(inbox: Inbox) -> None:
        await publish(identity, await build_link_wallet(inbox.id, inbox.wallet, roaming, client_timestamp_ns=ts()))

    async def unlink(inbox: Inbox) -> None:
        upd = await build_unlink_wallet(inbox.id, inbox.wallet, address(roaming), client_timestamp_ns=ts())
        await publish(identity, upd)

    await link(first)
    assert await lookup(identity, address(roaming)) == [first.id]
    await unlink(first)
    assert await lookup(identity, address(roaming), address(first.wallet)) == [None, first.id]

    await link(second)
    assert await lookup(identity, address(roaming)) == [second.id]
    # Linked to both: the latest association wins; unlinking it falls back to the one still standing.
    await link(first)
    assert await lookup(identity, address(roaming)) == [first.id]
    await unlink(first)
    assert await lookup(identity, address(roaming)) == [second.id]


async def test_refused_update_leaves_inbox_ids_alone(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    linked = LocalWalletSigner.generate()
    forged = await build_link_wallet(inbox.id, LocalWalletSigner.generate(), linked)
    await refused(identity, forged)
    assert await lookup(identity, address(linked)) == [None]


# --- the verified-state cache --------------------------------------------------------------------------------


async def test_log_is_replayed_when_the_state_cache_is_missing(identity: IdentityApiStub, database_url: str) -> None:
    inbox = await register(identity)
    add = await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate())
    await publish(identity, add)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM inbox_state WHERE inbox_id = $1", inbox.id) == 1
        await conn.execute("DELETE FROM inbox_state")
    finally:
        await conn.close()
    # Replay from the log still knows the add's signatures, and the cache is written again.
    assert (await refused(identity, add)).startswith("replayed_signature:")
    await publish(identity, await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate()))
    conn = await asyncpg.connect(database_url)
    try:
        seq = await conn.fetchval("SELECT sequence_id FROM inbox_state WHERE inbox_id = $1", inbox.id)
        newest = await conn.fetchval("SELECT max(sequence_id) FROM inbox_log WHERE inbox_id = $1", inbox.id)
    finally:
        await conn.close()
    assert seq == newest


async def test_concurrent_publishes_are_serialised_per_inbox(identity: IdentityApiStub) -> None:
    inbox = await register(identity)
    same = await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate())
    results = await asyncio.gather(publish(identity, same), publish(identity, same), return_exceptions=True)
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(errors) == 1 and (errors[0].details() or "").startswith("replayed_signature:")
    others = [
        await build_add_installation(inbox.id, inbox.wallet, InstallationKeySigner.generate(), client_timestamp_ns=ts())
        for _ in range(4)
    ]
    await asyncio.gather(*(publish(identity, upd) for upd in others))
    assert len(await log_of(identity, inbox.id)) == 6
    # Every accepted update is in the cached state: all six of them are now replays.
    for upd in [same, *others]:
        assert (await refused(identity, upd)).startswith("replayed_signature:")


async def test_a_stored_log_that_does_not_verify_blocks_new_updates(
    identity: IdentityApiStub, database_url: str
) -> None:
    wallet = LocalWalletSigner.generate()
    reg = await build_register(wallet, InstallationKeySigner.generate())
    tampered = assoc.IdentityUpdate()
    tampered.CopyFrom(reg)
    tampered.client_timestamp_ns += 10**9 * 3600  # the signatures no longer match the text
    conn = await asyncpg.connect(database_url)
    try:  # as a devnode that predates verification could have stored it
        await conn.execute(
            "INSERT INTO inbox_log (inbox_id, server_timestamp_ns, identity_update) VALUES ($1, 0, $2)",
            reg.inbox_id,
            tampered.SerializeToString(),
        )
    finally:
        await conn.close()
    upd = await build_add_installation(reg.inbox_id, wallet, InstallationKeySigner.generate())
    assert "stored identity log of this inbox does not verify" in await refused(identity, upd)
