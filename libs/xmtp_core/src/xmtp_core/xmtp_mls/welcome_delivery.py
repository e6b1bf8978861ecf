"""Which Welcome form each new installation gets, as ``WelcomeMessageInput`` protos ready to publish.

libxmtp's rule: when more than two recipients advertise 0xFF04 (ChaCha20-Poly1305 pointees) the Welcome is
encrypted once as a symmetric pointee (published to a random destination, algorithm SYMMETRIC_KEY, empty
hpke_public_key) and each of those recipients gets an X-Wing-wrapped ``WelcomePointer``; everyone else gets a
plain V1 Welcome wrapped with the algorithm and key its key package advertises.
"""

from __future__ import annotations

from collections.abc import Sequence

from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.xmtp_mls.key_package import PeerKeyPackage
from xmtp_core.xmtp_mls.welcome_wrapper import (
    WrapperAlgorithm,
    encrypt_pointee,
    wrap_welcome,
    wrap_welcome_pointer,
)

# Pointers pay off only for a shared pointee: libxmtp uses them when more than this many recipients can.
POINTER_MIN_RECIPIENTS_EXCLUSIVE = 2

V1 = mls_pb2.WelcomeMessageInput.V1
PointerInput = mls_pb2.WelcomeMessageInput.WelcomePointer


def can_receive_pointer(recipient: PeerKeyPackage) -> bool:
    """Pointers are always X-Wing wrapped, so the recipient needs both 0xFF04 and an X-Wing 0xFF03 key."""
    return (
        recipient.supports_welcome_pointers and recipient.wrapper.algorithm == WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6
    )


def direct_welcome_input(
    welcome: bytes, welcome_metadata: bytes, recipient: PeerKeyPackage
) -> mls_pb2.WelcomeMessageInput:
    """A WelcomeMessageInput with the Welcome wrapped for ``recipient``'s 0xFF03 key."""
    wrapped = wrap_welcome(welcome, welcome_metadata, recipient.wrapper.public_key, recipient.wrapper.algorithm)
    return mls_pb2.WelcomeMessageInput(
        v1=V1(
            installation_key=recipient.installation_key,
            data=wrapped.data,
            hpke_public_key=recipient.wrapper.public_key,
            wrapper_algorithm=int(recipient.wrapper.algorithm),  # type: ignore[arg-type]
            welcome_metadata=wrapped.welcome_metadata,
        )
    )


def welcome_inputs(
    welcome: bytes,
    welcome_metadata: bytes,
    recipients: Sequence[PeerKeyPackage],
    *,
    use_pointers: bool | None = None,
) -> list[mls_pb2.WelcomeMessageInput]:
    """Everything to publish for one Welcome: [pointee, pointers...] then direct V1 Welcomes.

    ``use_pointers`` None applies libxmtp's rule; False always sends direct Welcomes (always valid).
    """
    capable = [r for r in recipients if can_receive_pointer(r)]
    if use_pointers is None:
        use_pointers = len(capable) > POINTER_MIN_RECIPIENTS_EXCLUSIVE
    if not use_pointers or not capable:
        return [direct_welcome_input(welcome, welcome_metadata, r) for r in recipients]
    pointee = encrypt_pointee(welcome, welcome_metadata)
    out = [
        mls_pb2.WelcomeMessageInput(
            v1=V1(
                installation_key=pointee.pointer.destination,
                data=pointee.data,
                wrapper_algorithm=int(WrapperAlgorithm.SYMMETRIC_KEY),  # type: ignore[arg-type]
                welcome_metadata=pointee.welcome_metadata,
            )
        )
    ]
    for recipient in capable:
        pointer_input = PointerInput(
            installation_key=recipient.installation_key,
            welcome_pointer=wrap_welcome_pointer(pointee.pointer, recipient.wrapper.public_key),
            hpke_public_key=recipient.wrapper.public_key,
            wrapper_algorithm=int(WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6),  # type: ignore[arg-type]
        )
        out.append(mls_pb2.WelcomeMessageInput(welcome_pointer=pointer_input))
    capable_keys = {r.installation_key for r in capable}
    out.extend(
        direct_welcome_input(welcome, welcome_metadata, r) for r in recipients if r.installation_key not in capable_keys
    )
    return out
