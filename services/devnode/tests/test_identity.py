"""IdentityApi over real gRPC and Postgres, plus the structural checks in `validate_update`."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from devnode.errors import InvalidInput
from devnode.identity_validation import validate_update
from devnode.models import AddressChange
from devnode.store import MAX_INBOX_LOG_ENTRIES
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.api.v1.identity_pb2_grpc import IdentityApiStub
from xmtp_core.protos.identity.associations import association_pb2 as assoc
from xmtp_core.protos.identity.associations import signature_pb2 as sig

ADDRESS = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
INSTALLATION = b"\x11" * 32
ETH = assoc.IDENTIFIER_KIND_ETHEREUM


def inbox_for(address: str, nonce: int = 1) -> str:
    return hashlib.sha256(f"{address}{nonce}".encode()).hexdigest()


def wallet_sig() -> sig.Signature:
    return sig.Signature(erc_191=sig.RecoverableEcdsaSignature(bytes=b"\x01" * 65))


def installation_sig() -> sig.Signature:
    return sig.Signature(installation_key=sig.RecoverableEd25519Signature(bytes=b"\x02" * 64, public_key=INSTALLATION))


def create(address: str = ADDRESS, nonce: int = 1) -> assoc.IdentityAction:
    return assoc.IdentityAction(
        create_inbox=assoc.CreateInbox(
            initial_identifier=address,
            nonce=nonce,
            initial_identifier_signature=wallet_sig(),
            initial_identifier_kind=ETH,
        )
    )


def add(member: assoc.MemberIdentifier) -> assoc.IdentityAction:
    return assoc.IdentityAction(
        add=assoc.AddAssociation(
            new_member_identifier=member,
            existing_member_signature=wallet_sig(),
            new_member_signature=installation_sig(),
        )
    )


def revoke(member: assoc.MemberIdentifier) -> assoc.IdentityAction:
    return assoc.IdentityAction(
        revoke=assoc.RevokeAssociation(member_to_revoke=member, recovery_identifier_signature=wallet_sig())
    )


def update(inbox_id: str, *actions: assoc.IdentityAction) -> assoc.IdentityUpdate:
    return assoc.IdentityUpdate(inbox_id=inbox_id, client_timestamp_ns=1_700_000_000_000_000_000, actions=actions)


def registration(address: str = ADDRESS) -> assoc.IdentityUpdate:
    return update(
        inbox_for(address), create(address), add(assoc.MemberIdentifier(installation_public_key=INSTALLATION))
    )


async def publish(identity: IdentityApiStub, upd: assoc.IdentityUpdate) -> None:
    await identity.PublishIdentityUpdate(identity_pb2.PublishIdentityUpdateRequest(identity_update=upd))


async def lookup(identity: IdentityApiStub, *identifiers: str) -> list[str | None]:
    Req = identity_pb2.GetInboxIdsRequest.Request
    resp = await identity.GetInboxIds(
        identity_pb2.GetInboxIdsRequest(requests=[Req(identifier=i, identifier_kind=ETH) for i in identifiers])
    )
    assert [r.identifier for r in resp.responses] == list(identifiers)
    return [r.inbox_id if r.HasField("inbox_id") else None for r in resp.responses]


async def updates_after(
    identity: IdentityApiStub, inbox_id: str, sequence_id: int = 0
) -> list[tuple[int, assoc.IdentityUpdate]]:
    Req = identity_pb2.GetIdentityUpdatesRequest.Request
    resp = await identity.GetIdentityUpdates(
        identity_pb2.GetIdentityUpdatesRequest(requests=[Req(inbox_id=inbox_id, sequence_id=sequence_id)])
    )
    assert [r.inbox_id for r in resp.responses] == [inbox_id]
    return [(u.sequence_id, u.update) for u in resp.responses[0].updates]


async def test_register_then_read_log_and_inbox_ids(identity: IdentityApiStub) -> None:
    inbox = inbox_for(ADDRESS)
    assert await lookup(identity, ADDRESS) == [None]
    assert await updates_after(identity, inbox) == []
    reg = registration()
    await publish(identity, reg)
    log = await updates_after(identity, inbox)
    assert [u for _, u in log] == [reg]
    assert await lookup(identity, ADDRESS, ADDRESS.upper().replace("0X", "0x"), OTHER) == [inbox, inbox, None]

    link = update(inbox, add(assoc.MemberIdentifier(ethereum_address=OTHER)))
    await publish(identity, link)
    log = await updates_after(identity, inbox)
    assert [u for _, u in log] == [reg, link]
    assert log[0][0] < log[1][0]
    assert await updates_after(identity, inbox, log[0][0]) == [log[1]]
    assert await lookup(identity, OTHER) == [inbox]

    await publish(identity, update(inbox, revoke(assoc.MemberIdentifier(ethereum_address=OTHER))))
    assert await lookup(identity, ADDRESS, OTHER) == [inbox, None]


async def test_get_identity_updates_keeps_request_order(identity: IdentityApiStub) -> None:
    await publish(identity, registration(ADDRESS))
    await publish(identity, registration(OTHER))
    Req = identity_pb2.GetIdentityUpdatesRequest.Request
    wanted = [inbox_for(OTHER), "f" * 64, inbox_for(ADDRESS)]
    resp = await identity.GetIdentityUpdates(
        identity_pb2.GetIdentityUpdatesRequest(requests=[Req(inbox_id=i) for i in wanted])
    )
    assert [r.inbox_id for r in resp.responses] == wanted
    assert [len(r.updates) for r in resp.responses] == [1, 0, 1]


@pytest.mark.parametrize(
    ("upd", "reason"),
    [
        (update("not-hex", create()), "64 lowercase hex"),
        (update(inbox_for(ADDRESS, 2), create()), "does not match"),
        (update(inbox_for(ADDRESS)), "no actions"),
        (update(inbox_for(ADDRESS), add(assoc.MemberIdentifier(installation_public_key=INSTALLATION))), "first update"),
        (update(inbox_for(ADDRESS), create(), create()), "only allowed once"),
        (update(inbox_for(ADDRESS), create(), assoc.IdentityAction()), "no kind"),
        (update(inbox_for(ADDRESS), create(), add(assoc.MemberIdentifier())), "no identifier"),
        (update(inbox_for("0x12")), "no actions"),
    ],
)
async def test_bad_updates_are_rejected_and_not_stored(
    identity: IdentityApiStub, upd: assoc.IdentityUpdate, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await publish(identity, upd)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (excinfo.value.details() or "")
    assert await updates_after(identity, upd.inbox_id) == []


async def test_missing_update_is_invalid(identity: IdentityApiStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await identity.PublishIdentityUpdate(identity_pb2.PublishIdentityUpdateRequest())
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_second_create_inbox_is_rejected(identity: IdentityApiStub) -> None:
    await publish(identity, registration())
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await publish(identity, update(inbox_for(ADDRESS), create()))
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(await updates_after(identity, inbox_for(ADDRESS))) == 1


async def test_inbox_log_is_capped(identity: IdentityApiStub) -> None:
    inbox = inbox_for(ADDRESS)
    await publish(identity, registration())
    key_update = update(inbox, add(assoc.MemberIdentifier(installation_public_key=INSTALLATION)))
    for _ in range(MAX_INBOX_LOG_ENTRIES - 1):
        await publish(identity, key_update)
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await publish(identity, key_update)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "256" in (excinfo.value.details() or "")
    assert len(await updates_after(identity, inbox)) == MAX_INBOX_LOG_ENTRIES


async def test_smart_contract_wallet_signatures_are_reported_invalid(identity: IdentityApiStub) -> None:
    Sig = identity_pb2.VerifySmartContractWalletSignatureRequestSignature
    resp = await identity.VerifySmartContractWalletSignatures(
        identity_pb2.VerifySmartContractWalletSignaturesRequest(signatures=[Sig(account_id="eip155:1:0xabc")])
    )
    assert [(r.is_valid, r.HasField("error")) for r in resp.responses] == [(False, True)]


def test_validate_update_address_changes() -> None:
    inbox = inbox_for(ADDRESS)
    passkey = assoc.MemberIdentifier(passkey=assoc.Passkey(key=b"\xaa\xbb"))
    changes = validate_update(
        [registration()],
        update(
            inbox,
            add(assoc.MemberIdentifier(ethereum_address=OTHER.upper().replace("0X", "0x"))),
            add(passkey),
            revoke(assoc.MemberIdentifier(ethereum_address=ADDRESS)),
        ),
    )
    assert changes == [
        AddressChange(OTHER, ETH, added=True),
        AddressChange("aabb", assoc.IDENTIFIER_KIND_PASSKEY, added=True),
        AddressChange(ADDRESS, ETH, added=False),
    ]


def test_validate_update_rejects_foreign_log_and_missing_signature() -> None:
    with pytest.raises(InvalidInput, match="another inbox"):
        validate_update(
            [registration(OTHER)], update(inbox_for(ADDRESS), add(assoc.MemberIdentifier(ethereum_address=OTHER)))
        )
    unsigned = assoc.IdentityAction(
        add=assoc.AddAssociation(new_member_identifier=assoc.MemberIdentifier(ethereum_address=OTHER))
    )
    with pytest.raises(InvalidInput, match="signature"):
        validate_update([registration()], update(inbox_for(ADDRESS), unsigned))
