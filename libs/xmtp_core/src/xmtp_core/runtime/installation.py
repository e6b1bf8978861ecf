"""The installation's own keys: registering a new inbox + installation, loading the stored one, and keeping a
usable last-resort key package on the node (rotated after a Welcome used it, or near expiry)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.engine import InstallationKeys, key_package_expires_ns, new_key_package, should_rotate
from xmtp_core.identity import InstallationKeySigner, build_register
from xmtp_core.identity.signer import Signer
from xmtp_core.protos.identity.associations import association_pb2
from xmtp_core.runtime.core import Core, now_ns
from xmtp_core.store import Installation, Store, StoredKeyPackage
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, parse_key_package


async def register_installation(
    store: Store, wallet: Signer
) -> tuple[InstallationKeys, association_pb2.IdentityUpdate]:
    """A new inbox + installation stored; returns its keys and the identity update still to publish (libxmtp's
    order: the key package goes up first, then the registration)."""
    signer = InstallationKeySigner.generate()
    update = await build_register(wallet, signer)
    keys = InstallationKeys.from_seed(update.inbox_id, signer.private_seed)
    async with store.transaction() as s:
        credential = keys.credential.to_bytes()
        await store.installations.save(
            s, Installation(keys.inbox_id, keys.installation_key, keys.private_seed, credential)
        )
    return keys, update


async def load_installation(store: Store) -> InstallationKeys:
    async with store.transaction() as s:
        inst = await store.installations.load_only(s)
    if inst is None:
        raise LookupError("the store holds no installation; register first")
    return InstallationKeys.from_seed(inst.inbox_id, inst.private_signing_key)


class KeyPackages:
    """Our last-resort key packages: built, stored, uploaded, and read back as bundles to open Welcomes."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def rotate(self) -> KeyPackageBundle:
        """Build, store and upload a fresh last-resort key package; stored first (a Welcome to it must find its
        keys), marked uploaded once the node took it. A crash or a refusal in between leaves it unmarked, so
        `rotate_if_due` goes on seeing the rotation owed."""
        core = self.core
        bundle = new_key_package(core.keys)
        stored = StoredKeyPackage(
            bundle.ref, core.keys.installation_key, bundle.tls_bytes, bundle.init_private_key,
            bundle.encryption_private_key, bundle.xwing_seed, True, now_ns(), key_package_expires_ns(bundle),
        )  # fmt: skip
        async with core.store.transaction() as s:
            await core.store.key_packages.save(s, stored)
        await core.node.upload_key_package(bundle.tls_bytes)
        async with core.store.transaction() as s:
            await core.store.key_packages.mark_uploaded(s, bundle.ref)
        return bundle

    async def rotate_if_due(self) -> bool:
        """Rotate when it is owed; True when it rotated. Owed: no usable key package the node accepted, or the
        newest of them (the one the node hands out) was used by a Welcome we joined, or it nears expiry. Read
        from the store, so a rotation owed when crypto died (or the node said 429) is done by the next check."""
        core = self.core
        async with core.store.transaction() as s:
            newest = await core.store.key_packages.newest_uploaded(s, core.keys.installation_key)
        if newest is not None:
            expires_ns, used_ns = newest
            if not should_rotate(expires_ns=expires_ns, now_ns=now_ns(), used_by_welcome=used_ns is not None):
                return False
        await self.rotate()
        return True

    async def bundles(self, s: AsyncSession) -> list[KeyPackageBundle]:
        core = self.core
        out = []
        for kp in await core.store.key_packages.list_usable(s, core.keys.installation_key):
            parsed = parse_key_package(kp.key_package)
            bundle = KeyPackageBundle(
                parsed.key_package, kp.key_package, core.keys.inbox_id, core.keys.installation_key,
                kp.init_private_key, kp.encryption_private_key, kp.welcome_wrapper_private_key, kp.ref,
            )  # fmt: skip
            out.append(bundle)
        return out
