"""MLS (RFC 9420) for Switchboard: wire codec, cipher suites, HPKE, key schedule, trees and groups.

This package knows nothing of XMTP; it holds pure functions and plain objects and does no I/O.

Module map (one line each: what it owns).

Foundations and crypto:
- ``errors``: the exception hierarchy; every failure derives from ``MLSError``.
- ``codec``: TLS presentation-language ``Reader``/``Writer`` with §2.1.2 variable-length integers.
- ``_wire``: ``WireStruct`` base giving wire structs ``to_bytes``/``from_bytes``; u16-list helpers.
- ``kdf``: hash, HMAC and HKDF (RFC 5869) over ``cryptography``.
- ``kem``: RFC 9180 DHKEMs (X25519, X448, P-256/384/521), the ``Kem`` protocol and DeriveKeyPair.
- ``xwing``: the X-Wing hybrid KEM (ML-KEM-768 + X25519, draft-06) as a further ``Kem``.
- ``hpke``: RFC 9180 base mode: seal/open, multi-message contexts, export.
- ``signature``: Ed25519, Ed448 and ECDSA (P-256/384/521) signature schemes.
- ``cipher_suite``: suites 1–7 (§17.1) and the labelled operations of §5 (ExpandWithLabel, SignWithLabel, ...).

Wire structs:
- ``credentials``: basic and X.509 credentials (§5.3).
- ``extensions``: Extension, Capabilities, Lifetime, RequiredCapabilities, ExternalPub (§7.2, §13).
- ``app_data``: the AppDataDictionary extension and the hook that turns AppDataUpdate proposals into extensions.
- ``leaf_node``: LeafNode and its signature over LeafNodeTBS (§7.2).
- ``key_package``: KeyPackage, its signature, validation and KeyPackageRef (§10).
- ``tree_nodes``: ParentNode, Node and the ratchet_tree extension body (§7.1, §12.4.3.3).
- ``update_path``: HPKECiphertext, UpdatePathNode, UpdatePath (§7.6).
- ``proposals``: Proposal, ProposalOrRef, Commit and the proposal type numbers (§12.1, §12.4).
- ``framing``: Sender, FramedContent, AuthenticatedContent, PublicMessage, PrivateMessage, MLSMessage (§6).
- ``group_context``: GroupContext, the per-epoch summary (§8.1).
- ``group_info``: GroupInfo and its signature (§12.4.3).
- ``welcome``: PathSecret, GroupSecrets, EncryptedGroupSecrets, Welcome (§12.4.3).

Trees and secrets:
- ``tree_math``: array-based tree index arithmetic (§4.2, Appendix C).
- ``ratchet_tree``: the public ratchet tree: resolution, add/update/remove, tree and parent hashes, validation.
- ``treekem``: UpdatePath creation, merge and decryption, commit secret; private path keys in ``PathKeys``.
- ``key_schedule``: epoch secrets, welcome key/nonce, transcript hashes, confirmation tag, MLS-Exporter (§8).
- ``psk``: PreSharedKeyID, the psk_secret chain and the look-up of named PSKs (§8.4).
- ``secret_tree``: per-sender hash ratchets and sender-data keys (§9, §6.3.2); ``to_state``/``from_state``.

Messages and groups:
- ``message_protection``: content signatures, membership tags, PrivateMessage encryption (§6).
- ``welcome_crypto``: sealing and opening GroupSecrets and GroupInfo of a Welcome (§12.4.3.1).
- ``own_key_package``: this client's own KeyPackages: default capabilities and lifetime, creation, and
  ``OwnKeyPackage``, a KeyPackage with the private keys kept beside it (``key_package`` is the wire struct).
- ``proposal_validation``: leaf, key-package and proposal-list checks (§7.3, §10.1, §12.2) and applying lists.
- ``group_state``: ``GroupState`` (epochs, queued proposals, private keys), framing for the current epoch and
  the derivation of the next epoch (§8, §8.2).
- ``processed``: what processing yields: ApplicationMessage, ProposalMessage, StagedCommit.
- ``commit_creation``: creating a commit, its UpdatePath and the Welcome for added members (§12.4.1).
- ``commit_processing``: unprotecting a received message, queueing proposals, staging commits (§6, §12.4.2).
- ``joining``: joining from a Welcome and checking the adopted tree (§12.4.3.1).
- ``group``: ``Group``, the public face over the modules above: create, join, propose, commit, process, merge.
- ``external_commit``: joining by external commit from a GroupInfo with external_pub (§12.4.3.2).
- ``group_state_codec``: this library's versioned binary persistence of a ``GroupState`` (so of a ``Group``).
- ``conformance``: runs the MLS working-group test vectors: ``python -m xmtp_core.mls.conformance FILE.json``.
"""
