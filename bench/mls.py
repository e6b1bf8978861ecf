"""Benchmark our MLS code on suite 3 (XMTP's): PrivateMessage protect/unprotect per message against the
primitive floor, one HPKE encryption against its floor, and commit create/process by group size.

Run: `.venv/bin/python bench/mls.py` (under a minute on 2 cores); `--quick` for a sanity run, `--profile` to
also see which of our methods the time goes to, `--size N` for another message size.

The message floor is what any implementation must spend with `cryptography` alone: one Ed25519 signature
(sign to protect, verify to unprotect) over the real SignWithLabel input, two ChaCha20-Poly1305 operations
(content and sender data, real sizes) and the five ExpandWithLabel calls of a steady-state message (ratchet
key, nonce and next secret; sender-data key and nonce), each one HMAC-SHA256 block. Long-lived key objects
are loaded once, as a floor may assume. The floor helpers are checked against our own derivations and HPKE,
so they compute real values.

Commits are empty commits with an UpdatePath by one member, processed by another, in two trees: "blank"
is the group right after one commit added everyone (parent nodes blank, so a path encrypts to every other
leaf: the TreeKEM worst case); "populated" is the same group after a few members committed, so each copath
node resolves to one key (about log2(n) encryptions, the steady state of an active group).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    WIRE_PRIVATE_MESSAGE,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    Sender,
    framed_content_tbs,
)
from xmtp_core.mls.group import ApplicationMessage, Group, StagedCommit
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.message_protection import authenticate, decrypt_private, encrypt_private, verify_content
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.secret_tree import SecretTree

SUITE_ID = 3  # MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
MESSAGE_SIZE = 256  # a typical XMTP EncodedContent text message
PROTECTION_GOAL = 1.5  # ours / floor, per message
COMMIT_GOAL_MS = 20.0  # commit create and process at 250 members
COMMIT_GOAL_SIZE = 250
GROUP_SIZES = (2, 50, 250)

SENDER_DATA_LEN = 4 + 4 + 4  # leaf_index, generation, reuse_guard
SIGNATURE_LEN = 64
SAMPLE_LEN = 32  # ciphertext sample for the sender-data key (Nh bytes)
HASH_LEN = 32


# ---- statistics ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Per-operation timings in nanoseconds, warm-up already dropped."""

    samples_ns: tuple[int, ...]

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def p90_us(self) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] / 1000


def measure(op: Callable[[], object], iterations: int, warmup: int) -> Stats:
    """Time ``op`` once per iteration; the first ``warmup`` runs are discarded."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(warmup + iterations):
        t0 = clock()
        op()
        t1 = clock()
        if i >= warmup:
            samples.append(t1 - t0)
    return Stats(tuple(samples))


# ---- 1. the primitive floor ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FloorResult:
    protect: Stats  # sign + 2 AEAD seal + 5 KDF
    unprotect: Stats  # verify + 2 AEAD open + 5 KDF
    parts: dict[str, Stats]


def _kdf_label(length: int, label: bytes, context: bytes) -> bytes:
    full = b"MLS 1.0 " + label
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context


def _expand_one_block(secret: bytes, info: bytes) -> bytes:
    """HKDF-Expand for L <= 32: a single HMAC-SHA256 block."""
    h = hmac.HMAC(secret, hashes.SHA256())
    h.update(info + b"\x01")
    return h.finalize()


def _floor_kdfs(secret: bytes, sender_data_secret: bytes, generation: int, sample: bytes) -> tuple[bytes, ...]:
    g = generation.to_bytes(4, "big")
    return (
        _expand_one_block(secret, _kdf_label(32, b"key", g)),
        _expand_one_block(secret, _kdf_label(12, b"nonce", g))[:12],
        _expand_one_block(secret, _kdf_label(32, b"secret", g)),
        _expand_one_block(sender_data_secret, _kdf_label(32, b"key", sample)),
        _expand_one_block(sender_data_secret, _kdf_label(12, b"nonce", sample))[:12],
    )


def _check_floor_kdfs(suite: CipherSuite, secret: bytes, sd_secret: bytes, sample: bytes) -> None:
    expected = (
        suite.derive_tree_secret(secret, b"key", 7, 32),
        suite.derive_tree_secret(secret, b"nonce", 7, 12),
        suite.derive_tree_secret(secret, b"secret", 7, 32),
        suite.expand_with_label(sd_secret, b"key", sample, 32),
        suite.expand_with_label(sd_secret, b"nonce", sample, 12),
    )
    if _floor_kdfs(secret, sd_secret, 7, sample) != expected:
        raise AssertionError("the floor's ExpandWithLabel does not compute RFC 9420 ExpandWithLabel")


def bench_floor(iterations: int, warmup: int, content_len: int, signed_len: int) -> FloorResult:
    """Floor per message: ``content_len`` is the AEAD plaintext, ``signed_len`` the SignWithLabel input."""
    sk = ed25519.Ed25519PrivateKey.generate()
    pk = sk.public_key()
    signed = os.urandom(signed_len)
    signature = sk.sign(signed)
    plaintext = os.urandom(content_len)
    sender_data = os.urandom(SENDER_DATA_LEN)
    secret, sd_secret, aad = os.urandom(32), os.urandom(32), os.urandom(30)
    key, nonce = os.urandom(32), os.urandom(12)
    ct = ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)
    sd_ct = ChaCha20Poly1305(key).encrypt(nonce, sender_data, aad)
    sample = ct[:SAMPLE_LEN]
    _check_floor_kdfs(get_cipher_suite(SUITE_ID), secret, sd_secret, sample)

    def protect() -> None:
        sk.sign(signed)
        k, n, _, sdk, sdn = _floor_kdfs(secret, sd_secret, 7, sample)
        ChaCha20Poly1305(k).encrypt(n, plaintext, aad)
        ChaCha20Poly1305(sdk).encrypt(sdn, sender_data, aad)

    def unprotect() -> None:
        _floor_kdfs(secret, sd_secret, 7, sample)
        ChaCha20Poly1305(key).decrypt(nonce, sd_ct, aad)
        ChaCha20Poly1305(key).decrypt(nonce, ct, aad)
        pk.verify(signature, signed)

    parts = {
        "Ed25519 sign": lambda: sk.sign(signed),
        "Ed25519 verify": lambda: pk.verify(signature, signed),
        f"ChaCha20-Poly1305 seal {content_len} B": lambda: ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad),
        f"ChaCha20-Poly1305 open {content_len} B": lambda: ChaCha20Poly1305(key).decrypt(nonce, ct, aad),
        f"ChaCha20-Poly1305 seal {SENDER_DATA_LEN} B": lambda: ChaCha20Poly1305(key).encrypt(nonce, sender_data, aad),
        "5 x ExpandWithLabel": lambda: _floor_kdfs(secret, sd_secret, 7, sample),
    }
    return FloorResult(
        measure(protect, iterations, warmup),
        measure(unprotect, iterations, warmup),
        {name: measure(op, iterations, warmup) for name, op in parts.items()},
    )


# ---- 2. our PrivateMessage protect / unprotect --------------------------------------------------------
@dataclass(frozen=True)
class ProtectionResult:
    layer: str
    protect: Stats
    unprotect: Stats
    content_len: int  # AEAD plaintext of one message
    signed_len: int  # SignWithLabel content of one message


def _timed_stream(make: Callable[[], bytes], count: int) -> tuple[list[int], list[bytes]]:
    samples, outputs = [], []
    clock = time.perf_counter_ns
    for _ in range(count):
        t0 = clock()
        out = make()
        samples.append(clock() - t0)
        outputs.append(out)
    return samples, outputs


def _timed_consume(consume: Callable[[bytes], object], wires: Sequence[bytes]) -> list[int]:
    samples = []
    clock = time.perf_counter_ns
    for wire in wires:
        t0 = clock()
        consume(wire)
        samples.append(clock() - t0)
    return samples


def bench_message_protection(iterations: int, warmup: int, message_size: int = MESSAGE_SIZE) -> ProtectionResult:
    """``message_protection`` alone: authenticate + encrypt_private + serialise, and the reverse with verify.

    Sender and receiver hold their own SecretTree over the same encryption secret, as two members would;
    messages are unprotected in order, each ratchet generation once.
    """
    suite = get_cipher_suite(SUITE_ID)
    sig_priv, sig_pub = suite.generate_signature_key_pair()
    context = GroupContext(1, SUITE_ID, os.urandom(16), 1, os.urandom(32), os.urandom(32), ())
    encryption_secret, sender_data_secret = os.urandom(32), os.urandom(32)
    n_leaves = 2
    sender_tree = SecretTree(suite, encryption_secret, n_leaves)
    receiver_tree = SecretTree(suite, encryption_secret, n_leaves)
    data = os.urandom(message_size)
    content = FramedContent(context.group_id, context.epoch, Sender.member(0), b"", CONTENT_APPLICATION, data)

    def protect() -> bytes:
        ac = authenticate(suite, sig_priv, WIRE_PRIVATE_MESSAGE, content, context)
        return MLSMessage.wrap(encrypt_private(suite, ac, sender_tree, sender_data_secret)).to_bytes()

    def unprotect(wire: bytes) -> None:
        body = MLSMessage.from_bytes(wire).body
        assert isinstance(body, PrivateMessage)
        ac = decrypt_private(suite, body, receiver_tree, sender_data_secret)
        verify_content(suite, sig_pub, ac, context)
        if ac.content.application_data != data:
            raise AssertionError("message did not round-trip")

    sent, wires = _timed_stream(protect, warmup + iterations)
    received = _timed_consume(unprotect, wires)
    signed_len = len(framed_content_tbs(WIRE_PRIVATE_MESSAGE, content, context)) + 2 + len(b"MLS 1.0 FramedContentTBS")
    content_len = _vec_len(message_size) + _vec_len(SIGNATURE_LEN)
    return ProtectionResult(
        "message_protection", Stats(tuple(sent[warmup:])), Stats(tuple(received[warmup:])), content_len, signed_len
    )


def _vec_len(n: int) -> int:
    """Length of an RFC 9420 variable-length vector of ``n`` bytes (QUIC varint prefix)."""
    return n + (1 if n < 64 else 2 if n < 16384 else 4)


def bench_group_messages(iterations: int, warmup: int, message_size: int = MESSAGE_SIZE) -> ProtectionResult:
    """The Group API a product uses: ``encrypt_application`` + serialise, ``process_message`` on the bytes."""
    sender, receiver = build_group(2)[:2]
    data = os.urandom(message_size)

    def protect() -> bytes:
        return sender.encrypt_application(data).to_bytes()

    def unprotect(wire: bytes) -> None:
        result = receiver.process_message(wire)
        if not isinstance(result, ApplicationMessage) or result.data != data:
            raise AssertionError("message did not round-trip")

    sent, wires = _timed_stream(protect, warmup + iterations)
    received = _timed_consume(unprotect, wires)
    return ProtectionResult("Group API", Stats(tuple(sent[warmup:])), Stats(tuple(received[warmup:])), 0, 0)


# ---- 3a. one HPKE encryption (what an UpdatePath is made of) -----------------------------------------
@dataclass(frozen=True)
class HpkeResult:
    seal_floor: Stats  # X25519 generate + exchange, 6 HMAC, AEAD seal
    open_floor: Stats  # X25519 exchange (loaded key), 6 HMAC, AEAD open
    seal: Stats  # ours: CipherSuite.encrypt_with_label
    open: Stats  # ours: CipherSuite.decrypt_with_label


_HPKE_SUITE = b"HPKE" + (0x0020).to_bytes(2, "big") + (0x0001).to_bytes(2, "big") + (0x0003).to_bytes(2, "big")
_KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")


def _mac(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _mac(salt or bytes(HASH_LEN), b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _mac(prk, length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info + b"\x01")[:length]


_PSK_ID_HASH = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")  # constant in mode_base


def _floor_key_schedule(dh: bytes, enc: bytes, pk_r: bytes, info: bytes) -> tuple[bytes, bytes]:
    """DHKEM ExtractAndExpand plus the mode_base key schedule, minus the exporter secret (unused here)."""
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    shared = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    context = b"\x00" + _PSK_ID_HASH + _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    secret = _labeled_extract(_HPKE_SUITE, shared, b"secret", b"")
    return (
        _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32),
        _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12),
    )


def bench_hpke(iterations: int, warmup: int) -> HpkeResult:
    """EncryptWithLabel of a 32-byte path secret under an UpdatePathNode-sized context, floor vs ours."""
    suite = get_cipher_suite(SUITE_ID)
    label, group_context, path_secret = b"UpdatePathNode", os.urandom(110), os.urandom(32)
    info = bytes([len(b"MLS 1.0 " + label)]) + b"MLS 1.0 " + label + bytes([0x40, len(group_context)]) + group_context
    sk_r = x25519.X25519PrivateKey.generate()
    sk_r_raw, pk_r = sk_r.private_bytes_raw(), sk_r.public_key().public_bytes_raw()

    def seal_floor() -> tuple[bytes, bytes]:
        eph = x25519.X25519PrivateKey.generate()
        enc = eph.public_key().public_bytes_raw()
        key, nonce = _floor_key_schedule(eph.exchange(x25519.X25519PublicKey.from_public_bytes(pk_r)), enc, pk_r, info)
        return enc, ChaCha20Poly1305(key).encrypt(nonce, path_secret, b"")

    enc, ct = seal_floor()
    if suite.decrypt_with_label(sk_r_raw, label, group_context, enc, ct) != path_secret:
        raise AssertionError("the HPKE floor does not compute real HPKE")

    def open_floor() -> bytes:
        dh = sk_r.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
        key, nonce = _floor_key_schedule(dh, enc, pk_r, info)
        return ChaCha20Poly1305(key).decrypt(nonce, ct, b"")

    return HpkeResult(
        measure(seal_floor, iterations, warmup),
        measure(open_floor, iterations, warmup),
        measure(lambda: suite.encrypt_with_label(pk_r, label, group_context, path_secret), iterations, warmup),
        measure(lambda: suite.decrypt_with_label(sk_r_raw, label, group_context, enc, ct), iterations, warmup),
    )


# ---- 3b. commits ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommitResult:
    members: int
    tree: str  # "blank" or "populated"
    create: Stats  # commit(force_path=True) + serialise + merge
    process: Stats  # process_message(bytes) + merge
    path_ciphertexts: int  # HPKE encryptions in one UpdatePath
    build_s: float  # time to build the group


def build_group(members: int, leaves: Sequence[int] = (-1,)) -> list[Group]:
    """The creator (leaf 0) of a ``members``-member group at epoch 1, built by one commit adding everyone,
    followed by the members at ``leaves`` (negative counts from the end) joined from its Welcome."""
    suite = get_cipher_suite(SUITE_ID)
    creator = Group.create(SUITE_ID, suite.generate_signature_key_pair()[0], Credential.basic(b"member-0"))
    bundles = [
        create_key_package(SUITE_ID, suite.generate_signature_key_pair()[0], Credential.basic(f"member-{i}".encode()))
        for i in range(1, members)
    ]
    staged = creator.commit([Proposal.add(b.key_package) for b in bundles])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    joined = [Group.join(staged.welcome, bundles[(leaf % members) - 1]) for leaf in leaves]
    for leaf, group in zip(leaves, joined, strict=True):
        if group.own_leaf_index != leaf % members:
            raise AssertionError(f"expected member at leaf {leaf % members}, it joined at {group.own_leaf_index}")
    return [creator, *joined]


def populated_helpers(members: int) -> list[int]:
    """Leaves 2, 4, 8, ...: one committer inside each of leaf 0's copath subtrees above its sibling leaf."""
    return [1 << k for k in range(1, members.bit_length()) if 1 << k < members]


def _commit_round(committer: Group, others: Sequence[Group]) -> tuple[int, int]:
    """One empty commit with path by ``committer``, processed by every group in ``others``; (create, process) ns
    where process is the first of ``others``."""
    clock = time.perf_counter_ns
    t0 = clock()
    staged = committer.commit(force_path=True)
    assert staged.message is not None
    wire = staged.message.to_bytes()
    committer.merge_staged_commit(staged)
    created = clock() - t0
    processed = 0
    for i, group in enumerate(others):
        t1 = clock()
        received = group.process_message(wire)
        assert isinstance(received, StagedCommit)
        group.merge_staged_commit(received)
        if i == 0:
            processed = clock() - t1
    return created, processed


def _commit_pair(members: int, populated: bool) -> tuple[Group, Group]:
    """Creator and last-added member; with ``populated``, after the helper leaves each committed once."""
    helpers = populated_helpers(members) if populated else []
    last = members - 1
    committer, processor, *others = build_group(members, [last, *(h for h in helpers if h != last)])
    everyone = [committer, processor, *others]
    for helper in [processor, *others] if last in helpers else others:
        _commit_round(helper, [g for g in everyone if g is not helper])
    return committer, processor


def bench_commit(members: int, iterations: int, warmup: int, *, populated: bool = False) -> CommitResult:
    """Empty commits with an UpdatePath by the creator (leaf 0), processed by the last-added member.

    With ``populated``, members at leaves 2, 4, 8, ... first commit once each, so that every copath node of
    leaf 0 resolves to a single key.
    """
    t0 = time.perf_counter()
    committer, processor = _commit_pair(members, populated)
    build_s = time.perf_counter() - t0
    create_ns: list[int] = []
    process_ns: list[int] = []
    path_ciphertexts = _path_ciphertexts(committer)
    for _ in range(warmup + iterations):
        created, processed = _commit_round(committer, [processor])
        create_ns.append(created)
        process_ns.append(processed)
    if committer.epoch_authenticator != processor.epoch_authenticator:
        raise AssertionError("committer and processor disagree on the epoch")
    return CommitResult(
        members,
        "populated" if populated else "blank",
        Stats(tuple(create_ns[warmup:])),
        Stats(tuple(process_ns[warmup:])),
        path_ciphertexts,
        build_s,
    )


def _path_ciphertexts(group: Group) -> int:
    """HPKE encryptions an UpdatePath from this member needs: the resolution sizes of its copath."""
    tree = group.tree
    return sum(len(tree.resolution(c)) for c in tree.copath(group.own_leaf_index))


# ---- where the time goes (--profile) -----------------------------------------------------------------
_HOT_SPOTS = (
    ("xmtp_core.mls.ratchet_tree", "RatchetTree", "tree_hash"),
    ("xmtp_core.mls.ratchet_tree", "RatchetTree", "set_path_parent_hashes"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "encrypt_with_label"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "decrypt_with_label"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "sign_with_label"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "verify_with_label"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "expand_with_label"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "aead_encrypt"),
    ("xmtp_core.mls.cipher_suite", "CipherSuite", "aead_decrypt"),
    ("xmtp_core.mls.signature", "EdDsaScheme", "_sk"),
    ("xmtp_core.mls.kem", "X25519Kem", "_load"),
)


class _Timers:
    """Timing wrappers around the hot-spot methods while the ``with`` block runs; ``spent`` is ns per method.

    Recursive calls of one method count once (outermost); different methods may nest, so shares overlap.
    """

    def __init__(self) -> None:
        self.spent: dict[str, int] = {}
        self._originals: list[tuple[type, str, object]] = []

    def __enter__(self) -> _Timers:
        import importlib

        for module_name, class_name, method in _HOT_SPOTS:
            cls = getattr(importlib.import_module(module_name), class_name, None)
            if cls is not None and method in vars(cls):
                original = vars(cls)[method]
                self._originals.append((cls, method, original))
                setattr(cls, method, self._wrap(original, f"{class_name}.{method}"))
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, method, original in self._originals:
            setattr(cls, method, original)

    def _wrap(self, original: Callable[..., object], name: str) -> Callable[..., object]:
        depth = [0]
        spent = self.spent

        def timed(*args: object, **kwargs: object) -> object:
            depth[0] += 1
            t0 = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[name] = spent.get(name, 0) + time.perf_counter_ns() - t0

        return timed


def _shares(
    rounds: Callable[[], Iterator[tuple[str, Callable[[], object]]]], warmup: int
) -> dict[str, dict[str, float]]:
    """Run ``rounds`` (named steps) under timers; share (0..1) of each step's total time per hot-spot method."""
    totals: dict[str, int] = {}
    spent: dict[str, dict[str, int]] = {}
    with _Timers() as timers:
        for i, (step, op) in enumerate(rounds()):
            timers.spent.clear()
            t0 = time.perf_counter_ns()
            op()
            elapsed = time.perf_counter_ns() - t0
            if i < warmup:
                continue
            totals[step] = totals.get(step, 0) + elapsed
            for name, ns in timers.spent.items():
                spent.setdefault(step, {})[name] = spent.get(step, {}).get(name, 0) + ns
    return {step: {name: ns / totals[step] for name, ns in parts.items()} for step, parts in spent.items()}


def commit_breakdown(
    members: int, iterations: int, warmup: int, *, populated: bool = False
) -> dict[str, dict[str, float]]:
    """Where commit create and process time goes, as shares per hot-spot method."""
    committer, processor = _commit_pair(members, populated)
    wire = [b""]

    def create() -> None:
        staged = committer.commit(force_path=True)
        assert staged.message is not None
        wire[0] = staged.message.to_bytes()
        committer.merge_staged_commit(staged)

    def process() -> None:
        received = processor.process_message(wire[0])
        assert isinstance(received, StagedCommit)
        processor.merge_staged_commit(received)

    def rounds() -> Iterator[tuple[str, Callable[[], object]]]:
        for _ in range(warmup + iterations):
            yield "commit create", create
            yield "commit process", process

    return _shares(rounds, 2 * warmup)


def message_breakdown(iterations: int, warmup: int, message_size: int = MESSAGE_SIZE) -> dict[str, dict[str, float]]:
    """Where Group API protect and unprotect time goes, as shares per hot-spot method."""
    sender, receiver = build_group(2)[:2]
    data = os.urandom(message_size)
    wire = [b""]

    def protect() -> None:
        wire[0] = sender.encrypt_application(data).to_bytes()

    def rounds() -> Iterator[tuple[str, Callable[[], object]]]:
        for _ in range(warmup + iterations):
            yield "message protect", protect
            yield "message unprotect", lambda: receiver.process_message(wire[0])

    return _shares(rounds, 2 * warmup)


# ---- report -------------------------------------------------------------------------------------------
def _row(name: str, stats: Stats, unit: str = "us", extra: str = "") -> str:
    scale = 1000 if unit == "ms" else 1
    return f"  {name:<44} {stats.median_us / scale:>9.1f} {stats.p90_us / scale:>9.1f} {unit}  {extra}".rstrip()


def _header(title: str) -> str:
    return f"{title:<46} {'median':>9} {'p90':>9}"


def _verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT met"


def report_messages(floor: FloorResult, ours: Sequence[ProtectionResult], message_size: int) -> Iterator[str]:
    yield _header(f"per message, suite 3, {message_size} B of application data")
    for name, stats in floor.parts.items():
        yield _row(f"  {name}", stats)
    yield _row("floor protect (sign + 2 seal + 5 KDF)", floor.protect)
    yield _row("floor unprotect (verify + 2 open + 5 KDF)", floor.unprotect)
    for result in ours:
        for side, stats, base in (
            ("protect", result.protect, floor.protect),
            ("unprotect", result.unprotect, floor.unprotect),
        ):
            ratio = stats.median_us / base.median_us
            extra = f"x{ratio:.2f} its floor (goal <= x{PROTECTION_GOAL}: {_verdict(ratio, PROTECTION_GOAL)})"
            if side == "protect":  # the floor is the verify side; show that ratio too
                extra += f"; x{stats.median_us / floor.unprotect.median_us:.2f} the verify-side floor"
            yield _row(f"ours {side}, {result.layer}", stats, extra=extra)


def report_hpke(result: HpkeResult) -> Iterator[str]:
    yield _header("one HPKE encryption of a path secret")
    yield _row("floor seal (X25519 gen + DH, 6 HMAC, AEAD)", result.seal_floor)
    yield _row(
        "ours encrypt_with_label", result.seal, extra=f"x{result.seal.median_us / result.seal_floor.median_us:.2f}"
    )
    yield _row("floor open (DH, 6 HMAC, AEAD)", result.open_floor)
    yield _row(
        "ours decrypt_with_label", result.open, extra=f"x{result.open.median_us / result.open_floor.median_us:.2f}"
    )


def report_commits(results: Sequence[CommitResult]) -> Iterator[str]:
    yield _header("empty commit with UpdatePath")
    for r in results:
        for side, stats in (("create", r.create), ("process", r.process)):
            goal = ""
            if r.members == COMMIT_GOAL_SIZE:
                goal = f"goal <= {COMMIT_GOAL_MS:.0f} ms: {_verdict(stats.median_us / 1000, COMMIT_GOAL_MS)}"
            yield _row(f"{r.members:>4} members, {r.tree} tree, {side}", stats, "ms", goal)
        yield f"  {'':<44} ({r.path_ciphertexts} HPKE encryptions per path; group built in {r.build_s:.2f} s)"


def report_breakdown(title: str, shares: dict[str, dict[str, float]]) -> Iterator[str]:
    yield f"{title} (share of total time; nested methods overlap)"
    for step, parts in shares.items():
        ranked = sorted(((share, name) for name, share in parts.items() if share >= 0.01), reverse=True)
        yield f"  {step:<18} " + ", ".join(f"{name} {share:.0%}" for share, name in ranked)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few iterations, groups of 2 and 10 (sanity run)")
    parser.add_argument("--size", type=int, default=MESSAGE_SIZE, help="application message size in bytes")
    parser.add_argument("--profile", action="store_true", help="also show which of our methods the time goes to")
    args = parser.parse_args(argv)
    n_msg, w_msg = (50, 5) if args.quick else (2000, 200)
    sizes = (2, 10) if args.quick else GROUP_SIZES

    started = time.perf_counter()
    protection = bench_message_protection(n_msg, w_msg, args.size)
    group_api = bench_group_messages(n_msg, w_msg, args.size)
    floor = bench_floor(n_msg, w_msg, protection.content_len, protection.signed_len)
    _print(report_messages(floor, (protection, group_api), args.size))
    _print(report_hpke(bench_hpke(n_msg // 2, w_msg // 2)))
    commits = [
        bench_commit(n, *_commit_reps(n, args.quick), populated=populated)
        for n in sizes
        for populated in ((False, True) if n > 2 else (False,))
    ]
    _print(report_commits(commits))
    if args.profile:
        top = sizes[-1]
        messages = message_breakdown(n_msg // 4, w_msg // 4)
        _print(report_breakdown("where the time goes, Group API messages", messages))
        for populated in (False, True):
            shares = commit_breakdown(top, *_commit_reps(top, args.quick), populated=populated)
            tree = "populated" if populated else "blank"
            _print(report_breakdown(f"where the time goes, commits at {top} members, {tree} tree", shares))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


def _print(lines: Iterator[str]) -> None:
    for line in lines:
        print(line)


def _commit_reps(members: int, quick: bool) -> tuple[int, int]:
    """(iterations, warm-up) per group size; larger groups get fewer, slower rounds."""
    if quick:
        return 3, 1
    if members <= 2:
        return 100, 10
    return (60, 5) if members <= 50 else (30, 3)


if __name__ == "__main__":
    sys.exit(main())
