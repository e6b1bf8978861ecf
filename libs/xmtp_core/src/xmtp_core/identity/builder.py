"""Building signed identity updates (the `IdentityUpdate` protobuf), as libxmtp builds them.

`UpdateBuilder` collects actions and their signers, renders the one signature text, asks each distinct
signer to sign it once, and reuses that signature wherever the signer appears. Registration relies on this:
the wallet's single signature is both CreateInbox.initial_identifier_signature and the AddAssociation's
existing_member_signature (reference §2.4), which is legal because replay detection only counts signatures
of *earlier* updates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Self

from xmtp_core.identity.association import MAX_INSTALLATIONS_PER_INBOX
from xmtp_core.identity.codec import (
    DecodedUpdate,
    SignedAction,
    SignedAddAssociation,
    SignedChangeRecoveryAddress,
    SignedCreateInbox,
    SignedRevokeAssociation,
    encode_update,
)
from xmtp_core.identity.errors import AssociationError, InvalidIdentifierError, Rule, SignerConfigurationError
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    Passkey,
    RootIdentifier,
    ethereum_address,
    installation_key,
)
from xmtp_core.identity.inbox_id import NODE_SDK_DEFAULT_NONCE, inbox_id
from xmtp_core.identity.signature_text import (
    UnsignedAction,
    UnsignedAddAssociation,
    UnsignedChangeRecoveryAddress,
    UnsignedCreateInbox,
    UnsignedRevokeAssociation,
    signature_text,
)
from xmtp_core.identity.signatures import (
    Erc191Signature,
    InstallationKeySignature,
    SmartContractWalletSignature,
    WireSignature,
)
from xmtp_core.identity.signer import Signer, SmartContractWalletSigner
from xmtp_core.identity.state import AssociationState
from xmtp_core.protos.identity.associations import association_pb2 as pb


@dataclass
class _Step:
    action: UnsignedAction
    signers: tuple[Signer, ...]


@dataclass
class UpdateBuilder:
    """Accumulates actions for one inbox; `await build()` signs and returns the `IdentityUpdate`."""

    inbox_id: str
    client_timestamp_ns: int | None = None
    _steps: list[_Step] = field(default_factory=list)

    def create_inbox(self, owner: Signer, nonce: int) -> Self:
        """Add a CreateInbox action for `owner` and `nonce`, signed by the owner."""
        identifier = _root(owner.identifier)
        self._steps.append(_Step(UnsignedCreateInbox(identifier, nonce), (owner,)))
        return self

    def add_association(self, existing: Signer, new_member: Signer) -> Self:
        """`existing` (a member or the recovery identifier) vouches for `new_member`, which also signs."""
        self._steps.append(_Step(UnsignedAddAssociation(new_member.identifier), (existing, new_member)))
        return self

    def revoke(self, recovery: Signer, member: MemberIdentifier) -> Self:
        """Add a RevokeAssociation of `member`, signed by the recovery identifier."""
        self._steps.append(_Step(UnsignedRevokeAssociation(member), (recovery,)))
        return self

    def change_recovery(self, recovery: Signer, new_recovery: RootIdentifier) -> Self:
        """Add a ChangeRecoveryAddress to `new_recovery`, signed by the current recovery identifier."""
        self._steps.append(_Step(UnsignedChangeRecoveryAddress(new_recovery), (recovery,)))
        return self

    def timestamp_ns(self) -> int:
        """The update's client timestamp, fixed to "now" on first use when none was given."""
        if self.client_timestamp_ns is None:
            self.client_timestamp_ns = time.time_ns()
        return self.client_timestamp_ns

    def text(self) -> str:
        """The text the signers will sign."""
        return signature_text(self.inbox_id, self.timestamp_ns(), [step.action for step in self._steps])

    async def build(self) -> pb.IdentityUpdate:
        """Sign every action over the update's signature text and return the IdentityUpdate protobuf."""
        if not self._steps:
            raise ValueError("an identity update needs at least one action")
        text = self.text()
        signatures: dict[int, WireSignature] = {}
        for step in self._steps:
            for signer in step.signers:
                if id(signer) not in signatures:
                    signatures[id(signer)] = _wrap(signer, await signer.sign(text))
        actions = [_signed(step, signatures) for step in self._steps]
        return encode_update(DecodedUpdate(self.inbox_id, self.timestamp_ns(), tuple(actions)))


def _root(identifier: MemberIdentifier) -> RootIdentifier:
    if isinstance(identifier, InstallationKey):
        raise InvalidIdentifierError("an installation key cannot own an inbox or be its recovery identifier")
    return identifier


def _wrap(signer: Signer, raw: bytes) -> WireSignature:
    identifier = signer.identifier
    if isinstance(signer, SmartContractWalletSigner) and isinstance(identifier, EthereumAddress):
        account_id = f"eip155:{signer.chain_id}:{identifier.address}"
        return SmartContractWalletSignature(account_id, signer.block_number, raw)
    match identifier:
        case EthereumAddress():
            return Erc191Signature(raw)
        case InstallationKey(public_key=public_key):
            return InstallationKeySignature(raw, public_key)
        case Passkey():
            # A passkey signature wraps WebAuthn authenticator data and client JSON that only an authenticator
            # produces; verifying them is supported, producing them here is not.
            raise SignerConfigurationError("passkey signers are not supported: signing needs a WebAuthn authenticator")


def _signed(step: _Step, signatures: dict[int, WireSignature]) -> SignedAction:
    sigs = [signatures[id(signer)] for signer in step.signers]
    match step.action:
        case UnsignedCreateInbox():
            return SignedCreateInbox(step.action, sigs[0])
        case UnsignedAddAssociation():
            return SignedAddAssociation(step.action, existing_member_signature=sigs[0], new_member_signature=sigs[1])
        case UnsignedRevokeAssociation():
            return SignedRevokeAssociation(step.action, sigs[0])
        case UnsignedChangeRecoveryAddress():
            return SignedChangeRecoveryAddress(step.action, sigs[0])


# --- the updates a client makes ------------------------------------------------------------------------------


def _require_room(state: AssociationState | None, limit: int = MAX_INSTALLATIONS_PER_INBOX) -> None:
    if state is not None and len(state.installation_keys()) >= limit:
        count = len(state.installation_keys())
        raise AssociationError(Rule.TOO_MANY_INSTALLATIONS, f"inbox already has {count} installations (max {limit})")


async def build_register(
    wallet: Signer,
    installation: Signer,
    *,
    nonce: int = NODE_SDK_DEFAULT_NONCE,
    client_timestamp_ns: int | None = None,
) -> pb.IdentityUpdate:
    """A new inbox: [CreateInbox(wallet, nonce), AddAssociation(installation, by wallet)] in one update."""
    owner = _root(wallet.identifier)
    builder = UpdateBuilder(inbox_id(owner, nonce), client_timestamp_ns)
    return await builder.create_inbox(wallet, nonce).add_association(wallet, installation).build()


async def build_add_installation(
    inbox: str,
    existing: Signer,
    installation: Signer,
    *,
    state: AssociationState | None = None,
    client_timestamp_ns: int | None = None,
) -> pb.IdentityUpdate:
    """Register another installation on an existing inbox; refuses when `state` already has 10."""
    _require_room(state)
    return await UpdateBuilder(inbox, client_timestamp_ns).add_association(existing, installation).build()


async def build_revoke_installation(
    inbox: str, recovery: Signer, public_key: bytes, *, client_timestamp_ns: int | None = None
) -> pb.IdentityUpdate:
    """An update that revokes the installation `public_key`, signed by the recovery identifier."""
    return await UpdateBuilder(inbox, client_timestamp_ns).revoke(recovery, installation_key(public_key)).build()


async def build_link_wallet(
    inbox: str, existing: Signer, new_wallet: Signer, *, client_timestamp_ns: int | None = None
) -> pb.IdentityUpdate:
    """An update that links `new_wallet` to the inbox, signed by an existing member."""
    return await UpdateBuilder(inbox, client_timestamp_ns).add_association(existing, new_wallet).build()


async def build_unlink_wallet(
    inbox: str, recovery: Signer, address: str, *, client_timestamp_ns: int | None = None
) -> pb.IdentityUpdate:
    """An update that unlinks the wallet `address`, signed by the recovery identifier."""
    return await UpdateBuilder(inbox, client_timestamp_ns).revoke(recovery, ethereum_address(address)).build()


async def build_change_recovery(
    inbox: str, recovery: Signer, new_recovery: RootIdentifier, *, client_timestamp_ns: int | None = None
) -> pb.IdentityUpdate:
    """An update that makes `new_recovery` the inbox's recovery identifier."""
    return await UpdateBuilder(inbox, client_timestamp_ns).change_recovery(recovery, new_recovery).build()
