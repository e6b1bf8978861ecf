"""Command line for key rotation: re-encrypt the store under a new key, keys read from the environment.

    XMTP_DB_ENCRYPTION_KEY_OLD=<hex[,hex…]> XMTP_DB_ENCRYPTION_KEY_NEW=<hex> DATABASE_URL=postgres://… \\
        python -m xmtp_core.store.rotate

Each key may instead come from a file named by the same variable plus `_FILE` (a mounted secret).
Only key ids are printed, never key material.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError

from xmtp_core.store.errors import KeyConfigError, StoreError
from xmtp_core.store.keys import key_from_env, keys_from_env
from xmtp_core.store.rotation import rotate_database

OLD_KEYS_ENV = "XMTP_DB_ENCRYPTION_KEY_OLD"
NEW_KEY_ENV = "XMTP_DB_ENCRYPTION_KEY_NEW"


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        old_keys = keys_from_env(OLD_KEYS_ENV, env)
        new_key = key_from_env(NEW_KEY_ENV, env)
        if not old_keys:
            raise KeyConfigError(f"{OLD_KEYS_ENV} (or {OLD_KEYS_ENV}_FILE) must name the key(s) to rotate away from")
        database_url = env.get("DATABASE_URL", "")
        if not database_url:
            raise KeyConfigError("DATABASE_URL is not set")
        report = asyncio.run(rotate_database(database_url, old_keys, new_key))
    except StoreError as exc:
        print(f"rotation failed: {exc}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        # Nothing was committed: the rotation is one transaction.
        print(f"rotation failed, database unchanged: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"rotated to key {new_key.key_id.hex()}: "
        f"{report.values_reencrypted} of {report.values_seen} values re-encrypted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
