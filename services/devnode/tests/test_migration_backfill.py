"""Revision 0003 on a database that already holds identity logs and key packages: it indexes installations and
key-package inboxes by replaying the stored logs, so an upgraded devnode serves and refuses as a fresh one."""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from devnode import schema
from devnode.db import _alembic_config, make_engine, migrate
from devnode.store import Store
from devnode_testkit import KeyPackageParts, key_package
from xmtp_core.identity import (
    InstallationKeySigner,
    LocalWalletSigner,
    build_add_installation,
    build_register,
    build_revoke_installation,
)


def _to_0002(connection: sa.Connection) -> None:
    command.upgrade(_alembic_config(connection), "0002")


async def test_0003_backfills_installations_state_and_key_package_inboxes(database_url: str) -> None:
    wallet, kept, revoked = (
        LocalWalletSigner.generate(),
        InstallationKeySigner.generate(),
        InstallationKeySigner.generate(),
    )
    reg = await build_register(wallet, kept)
    inbox = reg.inbox_id
    log = [
        reg,
        await build_add_installation(inbox, wallet, revoked),
        await build_revoke_installation(inbox, wallet, revoked.public_key),
    ]
    packages = {}
    for installation in (kept, revoked):
        signer = Ed25519PrivateKey.from_private_bytes(installation.private_seed)
        packages[installation.public_key], _ = key_package(signer, KeyPackageParts(inbox_id=inbox))

    engine = make_engine(database_url, pool_size=2)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_to_0002)
            await conn.commit()
        async with engine.begin() as conn:
            now = time.time_ns()
            for update in log:
                await conn.execute(
                    sa.text(
                        "INSERT INTO inbox_log (inbox_id, server_timestamp_ns, identity_update) VALUES (:i, :t, :u)"
                    ),
                    {"i": inbox, "t": now, "u": update.SerializeToString()},
                )
            for key, data in packages.items():
                await conn.execute(
                    sa.text(
                        "INSERT INTO key_packages (installation_key, key_package, credential_identity, not_after,"
                        " created_ns, updated_ns) VALUES (:k, :d, :c, 0, 0, 0)"
                    ),
                    {"k": key, "d": data, "c": bytes.fromhex("0a40") + inbox.encode()},
                )
        await migrate(engine)

        async with engine.connect() as conn:
            members = (await conn.execute(sa.select(schema.inbox_installations))).all()
            kp_inboxes = (await conn.execute(sa.select(schema.key_packages.c.inbox_id))).scalars().all()
            cached = (await conn.execute(sa.select(schema.inbox_state.c.inbox_id))).scalars().all()
        standing = {m.installation_key: m.revocation_sequence_id is None for m in members}
        assert standing == {kept.public_key: True, revoked.public_key: False}
        assert kp_inboxes == [inbox, inbox]
        assert cached == [inbox]
        found = await Store(engine).fetch_key_packages([kept.public_key, revoked.public_key])
        assert found == {kept.public_key: packages[kept.public_key]}
    finally:
        await engine.dispose()
