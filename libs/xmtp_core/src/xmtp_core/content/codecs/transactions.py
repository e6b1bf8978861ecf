"""On-chain content: transaction reference (xmtp.org/transactionReference:1.0) and wallet send calls
(xmtp.org/walletSendCalls:1.0, EIP-5792 style). Both are JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import (
    JsonObject,
    JsonValue,
    dump_json,
    get_list,
    get_number,
    get_object,
    get_optional_str,
    get_str,
    get_uint,
    parse_json_object,
    string_map,
    utf8,
)
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent

TRANSACTION_REFERENCE = ContentTypeId("xmtp.org", "transactionReference", 1, 0)
WALLET_SEND_CALLS = ContentTypeId("xmtp.org", "walletSendCalls", 1, 0)


@dataclass(frozen=True)
class TransactionMetadata:
    """Optional details of an on-chain transaction a TransactionReference points at."""

    transaction_type: str
    currency: str
    amount: float
    decimals: int
    from_address: str
    to_address: str


@dataclass(frozen=True)
class TransactionReference:
    """A sent transaction: `reference` is the tx hash; `network_id` is kept as sent (string or number)."""

    reference: str
    network_id: str | int
    namespace: str | None = None
    metadata: TransactionMetadata | None = None


class TransactionReferenceCodec(ContentCodec[TransactionReference]):
    """xmtp.org/transactionReference:1.0: a pointer to an on-chain transaction (JSON)."""

    content_type = TRANSACTION_REFERENCE
    value_type = TransactionReference

    def fallback(self, value: TransactionReference) -> str | None:
        """Text shown by clients that do not know this content type."""
        if value.reference:
            return (
                "[Crypto transaction] Use a blockchain explorer to learn more using the transaction hash: "
                f"{value.reference}"
            )
        return "Crypto transaction"

    def encode(self, value: TransactionReference) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        if isinstance(value.network_id, bool):
            raise ContentEncodeError("transaction reference: networkId must be a string or integer")
        body: JsonObject = {}
        if value.namespace is not None:
            body["namespace"] = value.namespace
        body["reference"] = value.reference
        body["networkId"] = value.network_id
        if value.metadata is not None:
            m = value.metadata
            if not 0 <= m.decimals < 2**32:
                raise ContentEncodeError("transaction reference: decimals must be a u32")
            body["metadata"] = {
                "transactionType": m.transaction_type,
                "currency": m.currency,
                "amount": float(m.amount),
                "decimals": m.decimals,
                "fromAddress": m.from_address,
                "toAddress": m.to_address,
            }
        return self._encoded(value, dump_json(body, "transaction reference"))

    def decode(self, encoded: EncodedContent) -> TransactionReference:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        what = "transaction reference"
        obj = parse_json_object(encoded.content, what)
        meta = get_object(obj, "metadata", what)
        return TransactionReference(
            reference=get_str(obj, "reference", what),
            network_id=_network_id(obj.get("networkId")),
            namespace=get_optional_str(obj, "namespace", what),
            metadata=None
            if meta is None
            else TransactionMetadata(
                transaction_type=get_str(meta, "transactionType", what),
                currency=get_str(meta, "currency", what),
                amount=get_number(meta, "amount", what),
                decimals=get_uint(meta, "decimals", what),
                from_address=get_str(meta, "fromAddress", what),
                to_address=get_str(meta, "toAddress", what),
            ),
        )


def _network_id(value: JsonValue) -> str | int:
    # Senders disagree on the JSON type; keep what was sent so re-encoding is faithful.
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float):
        return repr(value)
    raise ContentDecodeError("transaction reference: networkId must be a string or number")


@dataclass(frozen=True)
class WalletCallMetadata:
    """Description of one call of a WalletSendCalls request."""

    description: str
    transaction_type: str
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WalletCall:
    """One contract call of a WalletSendCalls request (EIP-5792)."""

    to: str | None = None
    data: str | None = None
    value: str | None = None
    gas: str | None = None
    metadata: WalletCallMetadata | None = None


@dataclass(frozen=True)
class WalletSendCalls:
    """A request that the recipient's wallet send a batch of calls (EIP-5792 `wallet_sendCalls`)."""

    version: str
    chain_id: str  # hex, e.g. "0x1"
    from_address: str
    calls: tuple[WalletCall, ...]
    capabilities: Mapping[str, str] | None = None


_RESERVED_METADATA_KEYS = frozenset({"description", "transactionType"})


def _call_json(call: WalletCall) -> JsonObject:
    # Key order follows the cross-SDK fixture (to, value, data), which JSON readers don't care about.
    body: JsonObject = {}
    for key, item in (("to", call.to), ("value", call.value), ("data", call.data), ("gas", call.gas)):
        if item is not None:
            body[key] = item
    if call.metadata is not None:
        clash = _RESERVED_METADATA_KEYS & set(call.metadata.extra)
        if clash:
            raise ContentEncodeError(f"wallet send calls: metadata extra keys clash with {sorted(clash)}")
        meta: JsonObject = {
            "description": call.metadata.description,
            "transactionType": call.metadata.transaction_type,
        }
        meta.update(sorted(call.metadata.extra.items()))
        body["metadata"] = meta
    return body


def _wallet_json(value: WalletSendCalls) -> bytes:
    body: JsonObject = {
        "version": value.version,
        "chainId": value.chain_id,
        "from": value.from_address,
        "calls": [_call_json(call) for call in value.calls],
    }
    if value.capabilities is not None:
        body["capabilities"] = dict(sorted(value.capabilities.items()))
    return dump_json(body, "wallet send calls")


def _parse_call(item: JsonValue) -> WalletCall:
    what = "wallet send calls"
    if not isinstance(item, dict):
        raise ContentDecodeError(f"{what}: each call must be an object")
    meta = get_object(item, "metadata", what)
    metadata = None
    if meta is not None:
        extra = string_map({k: v for k, v in meta.items() if k not in _RESERVED_METADATA_KEYS}, what)
        metadata = WalletCallMetadata(
            description=get_str(meta, "description", what),
            transaction_type=get_str(meta, "transactionType", what),
            extra=extra,
        )
    return WalletCall(
        to=get_optional_str(item, "to", what),
        data=get_optional_str(item, "data", what),
        value=get_optional_str(item, "value", what),
        gas=get_optional_str(item, "gas", what),
        metadata=metadata,
    )


class WalletSendCallsCodec(ContentCodec[WalletSendCalls]):
    """xmtp.org/walletSendCalls:1.0: an EIP-5792 wallet_sendCalls request (JSON)."""

    content_type = WALLET_SEND_CALLS
    value_type = WalletSendCalls

    def fallback(self, value: WalletSendCalls) -> str | None:
        """Text shown by clients that do not know this content type."""
        try:
            body = utf8(_wallet_json(value), "wallet send calls")
        except (ContentEncodeError, ContentDecodeError):
            body = "{}"
        return f"[Transaction request generated]: {body}"

    def encode(self, value: WalletSendCalls) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        return self._encoded(value, _wallet_json(value))

    def decode(self, encoded: EncodedContent) -> WalletSendCalls:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        what = "wallet send calls"
        obj = parse_json_object(encoded.content, what)
        capabilities = obj.get("capabilities")
        return WalletSendCalls(
            version=get_str(obj, "version", what),
            chain_id=get_str(obj, "chainId", what),
            from_address=get_str(obj, "from", what),
            calls=tuple(_parse_call(item) for item in get_list(obj, "calls", what)),
            capabilities=None if capabilities is None else string_map(capabilities, f"{what} capabilities"),
        )
