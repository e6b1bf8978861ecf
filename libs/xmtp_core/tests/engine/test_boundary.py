"""The engine does no I/O: importing it loads neither gRPC nor the node client nor SQLAlchemy (checked in a fresh
interpreter, since this test process has loaded them all already)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("grpc", "xmtp_core.node", "sqlalchemy", "asyncpg", "nats", "faststream", "xmtp_core.store")


def test_importing_the_engine_loads_no_network_or_database_code() -> None:
    probe = "import json, sys, xmtp_core.engine; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert "xmtp_core.engine" in loaded and "xmtp_core.envelopes" in loaded
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)] == []


def test_the_node_package_still_exports_the_envelope_types() -> None:
    from xmtp_core import envelopes, node
    from xmtp_core.node import models

    for name in ("GroupMessage", "WelcomeMessage", "WelcomeKind", "NewWelcome", "NewWelcomePointer"):
        assert getattr(node, name) is getattr(envelopes, name) is getattr(models, name)


def test_one_definition_of_conversation_kind_and_scw_verification() -> None:
    from xmtp_core import engine, envelopes, identity, node, store

    assert engine.ConversationKind is envelopes.ConversationKind is store.ConversationKind
    assert node.ScwVerification is identity.ScwVerification
