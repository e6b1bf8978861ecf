"""Joining a group by external commit (RFC 9420 §12.4.3.2): from a GroupInfo carrying external_pub, the
joiner derives the init secret through HPKE export (ExternalInit, §8.3), adds its own leaf with an
UpdatePath and sends the commit as a PublicMessage from a new_member_commit sender."""

from __future__ import annotations

from dataclasses import dataclass, replace

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import ValidationError
from xmtp_core.mls.extensions import EXT_EXTERNAL_PUB, Capabilities, Extension, ExternalPub, find_extension
from xmtp_core.mls.framing import (
    CONTENT_COMMIT,
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PUBLIC_MESSAGE,
    FramedContent,
    MLSMessage,
    PublicMessage,
    Sender,
)
from xmtp_core.mls.group import Group
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.group_state import GroupConfig, derive_epoch_state
from xmtp_core.mls.joining import joined_tree
from xmtp_core.mls.leaf_node import SOURCE_COMMIT, LeafNode
from xmtp_core.mls.message_protection import authenticate
from xmtp_core.mls.own_key_package import default_capabilities
from xmtp_core.mls.proposal_validation import ProposalEntry, required_capabilities, validate_and_apply
from xmtp_core.mls.proposals import EXTERNAL_INIT, Commit, Proposal, ProposalOrRef
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import PathKeys, create_update_path


@dataclass(frozen=True)
class ExternalJoin:
    """The joiner's group (already in the new epoch) and the commit every member must process."""

    group: Group
    commit: MLSMessage


def join_by_external_commit(
    group_info: GroupInfo,
    signature_priv: bytes,
    credential: Credential,
    *,
    ratchet_tree: RatchetTree | None = None,
    capabilities: Capabilities | None = None,
    leaf_extensions: tuple[Extension, ...] = (),
    authenticated_data: bytes = b"",
    config: GroupConfig | None = None,
) -> ExternalJoin:
    """Join the group ``group_info`` describes by an external commit; returns the new group and the commit to send."""
    context = group_info.group_context
    suite = get_cipher_suite(context.cipher_suite)
    tree = joined_tree(suite, group_info, ratchet_tree)
    ext = find_extension(group_info.extensions, EXT_EXTERNAL_PUB)
    if ext is None:
        raise ValidationError("RFC 9420 §12.4.3.2: GroupInfo lacks the external_pub extension")
    kem_output, hpke_context = suite.hpke_sender_context(ExternalPub.from_bytes(ext.extension_data).external_pub, b"")
    init_secret = hpke_context.export(ks.EXTERNAL_INIT_EXPORT_LABEL, suite.hash_len)
    me = Sender(SENDER_NEW_MEMBER_COMMIT)
    external_init = Proposal(EXTERNAL_INIT, kem_output=kem_output)
    applied = validate_and_apply(
        suite, tree, context.group_id, context.extensions, [ProposalEntry(external_init, me)], me
    )
    template = LeafNode(
        suite.generate_hpke_key_pair()[1], suite.signature_public_key(signature_priv), credential,
        capabilities or default_capabilities(suite.suite_id, credential.credential_type), SOURCE_COMMIT,
        extensions=leaf_extensions,
    )  # fmt: skip
    required = required_capabilities(applied.extensions)
    if required is not None:
        required.check(template.capabilities, "joiner leaf")
    own = applied.tree.add_leaf(template)
    provisional = replace(context, epoch=context.epoch + 1, extensions=applied.extensions)
    created = create_update_path(
        suite, applied.tree, own, template, signature_priv, context.group_id,
        lambda th: replace(provisional, tree_hash=th).to_bytes(),
    )  # fmt: skip
    commit = Commit((ProposalOrRef(proposal=external_init),), created.update_path)
    content = FramedContent(context.group_id, context.epoch, me, authenticated_data, CONTENT_COMMIT, commit=commit)
    signed = authenticate(suite, signature_priv, WIRE_PUBLIC_MESSAGE, content, context)
    cfg = config or GroupConfig()
    interim = ks.interim_transcript_hash(suite, context.confirmed_transcript_hash, group_info.confirmation_tag)
    state = derive_epoch_state(
        suite, cfg, context, interim, init_secret, None, applied, created.commit_secret, signed,
        PathKeys(own, created.keys),
    )  # fmt: skip
    auth = replace(signed.auth, confirmation_tag=state.confirmation_tag)
    message = MLSMessage.wrap(PublicMessage(content, auth, None))
    return ExternalJoin(Group(suite, signature_priv, state, cfg), message)
