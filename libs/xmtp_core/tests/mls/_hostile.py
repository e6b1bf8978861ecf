"""Hostile MLS inputs that once cost quadratic work (issue 8), and a deterministic measure of work.

The builders make what an attacker can send: a Welcome whose tree lists many unmerged leaves, a commit with
many Adds, a tree of identical leaves. ``work`` counts Python call events (sys.setprofile), which grows with
the work done and, unlike wall time, does not depend on the machine's load.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import EXT_RATCHET_TREE, PROTOCOL_MLS10, Extension
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group import Group, GroupConfig
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_nodes import Node, ParentNode
from xmtp_core.mls.welcome_crypto import WelcomeRecipient, encrypt_welcome

SUITE_ID = 3


def suite() -> CipherSuite:
    return get_cipher_suite(SUITE_ID)


def bundle(name: bytes) -> OwnKeyPackage:
    sk, _ = suite().generate_signature_key_pair()
    return create_key_package(SUITE_ID, sk, Credential.basic(name))


def work(fn: Callable[[], object], raises: type[MLSError] | None = None) -> int:
    """Python call events while ``fn`` runs, which must raise ``raises`` if given and otherwise return."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        count += 1

    raised: MLSError | None = None
    sys.setprofile(profile)
    try:
        fn()
    except MLSError as exc:
        raised = exc
    finally:
        sys.setprofile(None)
    if raises is None and raised is not None:
        raise raised
    if raises is not None and not isinstance(raised, raises):
        raise AssertionError(f"expected {raises.__name__}, got {raised!r}")
    return count


def unmerged_tree(n_leaves: int, first: LeafNode, last: LeafNode) -> RatchetTree:
    """``n_leaves`` leaves, only the first and last non-blank, and a root listing every leaf of its right half
    as unmerged: each parent-hash check then hashes the right half with half the leaves excluded."""
    nodes: list[Node | None] = [None] * (2 * n_leaves - 1)
    nodes[0] = first
    nodes[-1] = last
    root = n_leaves - 1
    nodes[root] = ParentNode(os.urandom(32), b"", tuple(range(n_leaves // 2, n_leaves)))
    return RatchetTree(nodes)


def identical_leaves_tree(n_leaves: int) -> RatchetTree:
    """``n_leaves`` copies of one validly signed key-package leaf."""
    leaf = bundle(b"copy").key_package.leaf_node
    nodes: list[Node | None] = [None] * (2 * n_leaves - 1)
    for i in range(n_leaves):
        nodes[2 * i] = leaf
    return RatchetTree(nodes)


def hostile_welcome(n_leaves: int) -> tuple[MLSMessage, OwnKeyPackage]:
    """A Welcome to a fresh victim whose GroupInfo (signed by the attacker, tree hash right) carries
    :func:`unmerged_tree`; everything before tree validation passes."""
    s = suite()
    attacker_sk, _ = s.generate_signature_key_pair()
    attacker = create_key_package(SUITE_ID, attacker_sk, Credential.basic(b"attacker")).key_package.leaf_node
    victim = bundle(b"victim")
    tree = unmerged_tree(n_leaves, attacker, victim.key_package.leaf_node)
    context = GroupContext(PROTOCOL_MLS10, SUITE_ID, os.urandom(16), 1, tree.tree_hash(s), os.urandom(32))
    info = GroupInfo(context, (Extension(EXT_RATCHET_TREE, tree.to_extension_data()),), os.urandom(32), 0)
    info = info.signed(s, attacker_sk)
    welcome = encrypt_welcome(s, info, os.urandom(32), [WelcomeRecipient(victim.key_package)])
    return MLSMessage.wrap(welcome), victim


def many_adds_commit(n_adds: int, config: GroupConfig | None = None) -> tuple[bytes, Group]:
    """A two-member group; the creator commits ``n_adds`` Adds. Returns the commit's bytes and the other member.

    With XMTP's default config the commit is a PrivateMessage, which the other member can read only once."""
    sk, _ = suite().generate_signature_key_pair()
    creator = Group.create(SUITE_ID, sk, Credential.basic(b"creator"), config=config)
    victim_bundle = bundle(b"victim")
    staged = creator.commit([Proposal.add(victim_bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    victim = Group.join(staged.welcome, victim_bundle, config=config)
    adds = [Proposal.add(bundle(f"m{i}".encode()).key_package) for i in range(n_adds)]
    attack = creator.commit(adds)
    assert attack.message is not None
    return attack.message.to_bytes(), victim


def _timings() -> None:
    """CPU seconds of each attack input, for before/after figures: run this file as a script."""
    import time

    def timed(label: str, fn: Callable[[], object]) -> None:
        start = time.process_time()
        try:
            fn()
            outcome = "accepted"
        except MLSError as exc:
            outcome = f"{type(exc).__name__}"
        print(f"{label}: {time.process_time() - start:.3f} s CPU ({outcome})")

    for n in (4096, 16384):
        welcome, victim = hostile_welcome(n)
        size = len(welcome.to_bytes())
        timed(f"join, Welcome of {size} bytes, {n // 2} unmerged leaves", partial(Group.join, welcome, victim))
        tree = unmerged_tree(n, bundle(b"a").key_package.leaf_node, victim.key_package.leaf_node)
        timed(f"parent-hash checks alone, same tree of {n} leaves", partial(tree.verify_parent_hashes, suite()))
    copies = identical_leaves_tree(4096)
    timed("validate a tree of 4096 identical leaves", partial(copies.validate, suite(), b"group"))
    message, member = many_adds_commit(2000)
    timed("process a commit of 2000 Adds", partial(member.process_message, message))


if __name__ == "__main__":
    _timings()
