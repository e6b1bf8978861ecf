"""Key packages against the identity log. libxmtp uploads an installation's key package BEFORE publishing the
update that adds it, so uploads from non-members are stored; FetchKeyPackages hands one out only while its
installation is a current member of the inbox its credential names (or that inbox has no log yet), and an
installation its inbox revoked can no longer upload."""

from __future__ import annotations

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from devnode_testkit import KeyPackageParts, key_package, upload_request
from xmtp_core.identity import (
    InstallationKeySigner,
    LocalWalletSigner,
    build_add_installation,
    build_link_wallet,
    build_register,
    build_revoke_installation,
    build_unlink_wallet,
)
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.api.v1.identity_pb2_grpc import IdentityApiStub
from xmtp_core.protos.identity.associations import association_pb2 as assoc
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.api.v1.mls_pb2_grpc import MlsApiStub


def kp_for(installation: InstallationKeySigner, inbox_id: str) -> bytes:
    """A valid key package whose leaf signature key is `installation` and whose credential names `inbox_id`."""
    data, key = key_package(
        Ed25519PrivateKey.from_private_bytes(installation.private_seed), KeyPackageParts(inbox_id=inbox_id)
    )
    assert key == installation.public_key
    return data


async def publish(identity: IdentityApiStub, upd: assoc.IdentityUpdate) -> None:
    await identity.PublishIdentityUpdate(identity_pb2.PublishIdentityUpdateRequest(identity_update=upd))


async def fetch(mls: MlsApiStub, *keys: bytes) -> list[bytes]:
    resp = await mls.FetchKeyPackages(mls_pb2.FetchKeyPackagesRequest(installation_keys=list(keys)))
    return [kp.key_package_tls_serialized for kp in resp.key_packages]


async def upload_refused(mls: MlsApiStub, data: bytes) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await mls.UploadKeyPackage(upload_request(data))
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return excinfo.value.details() or ""


async def test_libxmtp_order_upload_then_register(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    wallet, installation = LocalWalletSigner.generate(), InstallationKeySigner.generate()
    reg = await build_register(wallet, installation)
    data = kp_for(installation, reg.inbox_id)
    await mls.UploadKeyPackage(upload_request(data))
    # The inbox has no log yet: nothing contradicts the credential, so the key package is served.
    assert await fetch(mls, installation.public_key) == [data]
    await publish(identity, reg)
    assert await fetch(mls, installation.public_key) == [data]
    rotated = kp_for(installation, reg.inbox_id)
    await mls.UploadKeyPackage(upload_request(rotated))
    assert await fetch(mls, installation.public_key) == [rotated]


async def test_new_installation_is_withheld_until_the_inbox_adds_it(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    wallet = LocalWalletSigner.generate()
    reg = await build_register(wallet, InstallationKeySigner.generate())
    await publish(identity, reg)
    newcomer = InstallationKeySigner.generate()
    data = kp_for(newcomer, reg.inbox_id)
    # libxmtp's order for a second installation: upload first (accepted), then publish the AddAssociation.
    await mls.UploadKeyPackage(upload_request(data))
    assert await fetch(mls, newcomer.public_key) == [b""]
    await publish(identity, await build_add_installation(reg.inbox_id, wallet, newcomer))
    assert await fetch(mls, newcomer.public_key) == [data]


async def test_register_installation_follows_the_same_rule(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    reg = await build_register(LocalWalletSigner.generate(), InstallationKeySigner.generate())
    await publish(identity, reg)
    outsider = InstallationKeySigner.generate()
    resp = await mls.RegisterInstallation(
        mls_pb2.RegisterInstallationRequest(
            key_package=mls_pb2.KeyPackageUpload(key_package_tls_serialized=kp_for(outsider, reg.inbox_id))
        )
    )
    assert resp.installation_key == outsider.public_key
    assert await fetch(mls, outsider.public_key) == [b""]


async def test_key_package_naming_an_inbox_the_installation_is_not_in(
    mls: MlsApiStub, identity: IdentityApiStub
) -> None:
    mine_installation = InstallationKeySigner.generate()
    mine = await build_register(LocalWalletSigner.generate(), mine_installation)
    theirs = await build_register(LocalWalletSigner.generate(), InstallationKeySigner.generate())
    await publish(identity, mine)
    await publish(identity, theirs)
    # A member of `mine` claiming to belong to `theirs`: stored (it could be an add in flight), never served.
    await mls.UploadKeyPackage(upload_request(kp_for(mine_installation, theirs.inbox_id)))
    assert await fetch(mls, mine_installation.public_key) == [b""]
    # Its honest key package replaces the claim (one key package per installation) and is served.
    honest = kp_for(mine_installation, mine.inbox_id)
    await mls.UploadKeyPackage(upload_request(honest))
    assert await fetch(mls, mine_installation.public_key) == [honest]


async def test_revoked_installation_loses_its_key_package(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    wallet, first, second = (
        LocalWalletSigner.generate(),
        InstallationKeySigner.generate(),
        InstallationKeySigner.generate(),
    )
    reg = await build_register(wallet, first)
    await publish(identity, reg)
    await publish(identity, await build_add_installation(reg.inbox_id, wallet, second))
    kept, revoked = kp_for(first, reg.inbox_id), kp_for(second, reg.inbox_id)
    await mls.UploadKeyPackage(upload_request(kept))
    await mls.UploadKeyPackage(upload_request(revoked))
    assert await fetch(mls, first.public_key, second.public_key) == [kept, revoked]
    await publish(identity, await build_revoke_installation(reg.inbox_id, wallet, second.public_key))
    assert await fetch(mls, first.public_key, second.public_key) == [kept, b""]
    reason = await upload_refused(mls, kp_for(second, reg.inbox_id))
    assert reason.startswith("installation_revoked:") and second.public_key.hex() in reason
    assert await fetch(mls, second.public_key) == [b""]


async def test_unlinking_a_wallet_drops_the_installations_it_added(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    owner, helper, installation = (
        LocalWalletSigner.generate(),
        LocalWalletSigner.generate(),
        InstallationKeySigner.generate(),
    )
    reg = await build_register(owner, InstallationKeySigner.generate())
    await publish(identity, reg)
    await publish(identity, await build_link_wallet(reg.inbox_id, owner, helper))
    await publish(identity, await build_add_installation(reg.inbox_id, helper, installation))
    await mls.UploadKeyPackage(upload_request(kp_for(installation, reg.inbox_id)))
    await publish(identity, await build_unlink_wallet(reg.inbox_id, owner, helper.identifier.address))
    assert await fetch(mls, installation.public_key) == [b""]


@pytest.mark.parametrize("inbox_id", ["", "\u00e9" * 3, "A" * 64, "a" * 63])
async def test_credential_without_inbox_id_is_refused(mls: MlsApiStub, inbox_id: str) -> None:
    reason = await upload_refused(mls, kp_for(InstallationKeySigner.generate(), inbox_id))
    assert reason.startswith("key package:") and "inbox_id" in reason
