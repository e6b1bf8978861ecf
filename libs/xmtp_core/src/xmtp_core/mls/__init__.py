"""MLS (RFC 9420) for Switchboard: wire codec, cipher suites, HPKE, key schedule, trees and groups.

This package knows nothing of XMTP; it holds pure functions and plain objects and does no I/O.

Foundations: ``errors`` (exception hierarchy), ``codec`` (TLS presentation language, varints), ``kdf``
(hash/HMAC/HKDF), ``kem`` (RFC 9180 DHKEMs), ``xwing`` (X-Wing hybrid KEM), ``hpke`` (RFC 9180 base mode),
``signature`` (Ed25519/Ed448/ECDSA), ``cipher_suite`` (suites 1–7 and the labelled operations of §5),
``tree_math`` (Appendix C), ``key_schedule`` (§8), ``psk`` (§8.4), ``secret_tree`` (§9).
``conformance`` runs the MLS working-group test vectors: ``python -m xmtp_core.mls.conformance FILE.json``.
"""
