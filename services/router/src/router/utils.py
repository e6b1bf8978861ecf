"""The Agent SDK's utilities: the test URL, wallet-send-calls for ERC-20 and native transfers, ERC-20 balance
and decimals through a JSON-RPC URL the caller gives, and remote attachments downloaded and checked.

Amounts are integers in the token's smallest unit (as viem's `parseUnits` gives); chain ids are ints or 0x-hex.
An RPC answer is attacker-controlled (any node the user points at): it is read up to `MAX_RPC_BYTES` and must
be a 0x-hex quantity, else `UtilityError`."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from xmtp_core.content.codecs.attachment import Attachment, RemoteAttachment
from xmtp_core.content.codecs.transactions import WalletCall, WalletCallMetadata, WalletSendCalls
from xmtp_core.content.remote_attachment import decrypt_attachment
from xmtp_core.untrusted import clean

MAX_RPC_BYTES: Final = 64 * 1024
MAX_ATTACHMENT_BYTES: Final = 100 * 1024 * 1024
TRANSFER_SELECTOR: Final = "a9059cbb"  # transfer(address,uint256)
BALANCE_OF_SELECTOR: Final = "70a08231"  # balanceOf(address)
DECIMALS_SELECTOR: Final = "313ce567"  # decimals()
ERC20_ABI: Final = [
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
     "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "decimals", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
]  # fmt: skip
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_QUANTITY = re.compile(r"^0x[0-9a-fA-F]{1,64}$")

Rpc = Callable[[str, list[Any]], Awaitable[Any]]
Fetch = Callable[[str], Awaitable[bytes]]


class UtilityError(ValueError):
    """Bad input to a utility, or an RPC / download answer that is not what it must be."""


def get_test_url(address: str, env: str = "dev") -> str:
    """Where to chat with the agent in a browser: `http://xmtp.chat/<env>/dm/<address>`."""
    return f"http://xmtp.chat/{env}/dm/{_address(address)}"


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise UtilityError(f"not an address: {clean(value, 60)}")
    return value.lower()


def _chain(chain: int | str) -> str:
    if isinstance(chain, int) and chain > 0:
        return hex(chain)
    if isinstance(chain, str) and _QUANTITY.match(chain):
        return hex(int(chain, 16))
    raise UtilityError("a chain id is a positive int or 0x-hex")


def _amount(amount: int) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**256:
        raise UtilityError("an amount is an int in [0, 2**256)")
    return amount


def _word(value: int) -> str:
    return format(value, "064x")


def create_erc20_transfer_calls(
    *, chain: int | str, token_address: str, from_address: str, to: str, amount: int, description: str = ""
) -> WalletSendCalls:
    """A wallet-send-calls (v1.0) asking ``from_address`` to transfer ``amount`` of the token to ``to``."""
    data = "0x" + TRANSFER_SELECTOR + _word(int(_address(to), 16)) + _word(_amount(amount))
    call = WalletCall(
        to=_address(token_address), data=data, value="0x0",
        metadata=WalletCallMetadata(description or f"Transfer {amount} to {to}", "transfer"),
    )  # fmt: skip
    return WalletSendCalls("1.0", _chain(chain), _address(from_address), (call,))


def create_native_transfer_calls(
    *, chain: int | str, from_address: str, to: str, amount: int, description: str = ""
) -> WalletSendCalls:
    """A wallet-send-calls (v1.0) asking ``from_address`` to send ``amount`` wei of the chain's coin to ``to``."""
    call = WalletCall(
        to=_address(to), data="0x", value=hex(_amount(amount)),
        metadata=WalletCallMetadata(description or f"Send {amount} wei to {to}", "transfer"),
    )  # fmt: skip
    return WalletSendCalls("1.0", _chain(chain), _address(from_address), (call,))


async def _eth_call(rpc: Rpc, token: str, data: str) -> int:
    result = await rpc("eth_call", [{"to": _address(token), "data": data}, "latest"])
    if not isinstance(result, str) or not _QUANTITY.match(result):
        raise UtilityError(f"the RPC answered {clean(result, 80)}, not a 32-byte quantity")
    return int(result, 16)


async def get_erc20_balance(rpc: Rpc, token_address: str, owner: str) -> int:
    """``owner``'s balance of the token, in its smallest unit."""
    return await _eth_call(rpc, token_address, "0x" + BALANCE_OF_SELECTOR + _word(int(_address(owner), 16)))


async def get_erc20_decimals(rpc: Rpc, token_address: str) -> int:
    decimals = await _eth_call(rpc, token_address, "0x" + DECIMALS_SELECTOR)
    if decimals > 255:
        raise UtilityError("decimals over 255")
    return decimals


def http_rpc(url: str, *, timeout_s: float = 10.0) -> Rpc:
    """A JSON-RPC caller for ``url`` (aiohttp); answers over `MAX_RPC_BYTES` or with an error are refused."""

    async def call(method: str, params: list[Any]) -> Any:
        import aiohttp

        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, json=body) as response,
        ):
            raw = await response.content.read(MAX_RPC_BYTES + 1)
        if len(raw) > MAX_RPC_BYTES:
            raise UtilityError("RPC answer over the size cap")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise UtilityError("RPC answer is not JSON") from None
        if not isinstance(answer, dict) or "result" not in answer:
            raise UtilityError(f"RPC error: {clean(answer.get('error') if isinstance(answer, dict) else answer)}")
        return answer["result"]

    return call


async def download_remote_attachment(remote: RemoteAttachment, fetch: Fetch) -> Attachment:
    """Fetch the ciphertext with ``fetch(url)`` and decrypt it, checking the digest (the SDK's
    downloadRemoteAttachment); the declared length, when there is one, is checked first."""
    ciphertext = await fetch(remote.url)
    if len(ciphertext) > MAX_ATTACHMENT_BYTES or (
        remote.content_length is not None and len(ciphertext) != remote.content_length
    ):
        raise UtilityError("downloaded attachment has the wrong size")
    return decrypt_attachment(ciphertext, remote)


Lookup = Callable[[str], Awaitable[str | None]]
NAME_CACHE: Final = 1000
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,252}$")  # ENS / basenames and the like, lowercased


def create_name_resolver(lookup: Lookup | None = None, *, api_key: str | None = None) -> Lookup:
    """A resolver of names (`vitalik.eth`) to addresses, as the SDK's createNameResolver: an address passes
    through unchanged, anything else goes to ``lookup`` (default: web3.bio's `/ns/<name>`), answers are kept
    for the last `NAME_CACHE` names. Returns None for a name that resolves to nothing."""
    fetch = lookup or _web3_bio(api_key)
    cache: dict[str, str | None] = {}

    async def resolve(name: str) -> str | None:
        if _ADDRESS.match(name):
            return name.lower()
        key = name.strip().lower()
        if not _NAME.match(key):
            raise UtilityError(f"not a name: {clean(name, 60)}")
        if key in cache:
            cache[key] = cache.pop(key)  # most recently used last
            return cache[key]
        found = await fetch(key)
        address = found.lower() if isinstance(found, str) and _ADDRESS.match(found) else None
        cache[key] = address
        while len(cache) > NAME_CACHE:
            del cache[next(iter(cache))]
        return address

    return resolve


def _web3_bio(api_key: str | None) -> Lookup:
    async def lookup(name: str) -> str | None:
        import aiohttp

        headers = {"X-API-KEY": f"Bearer {api_key}"} if api_key else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(f"https://api.web3.bio/ns/{name}", headers=headers) as response,
        ):
            raw = await response.content.read(MAX_RPC_BYTES + 1)
        if response.status != 200 or len(raw) > MAX_RPC_BYTES:
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        entries = body if isinstance(body, list) else [body]
        for entry in entries:
            address = entry.get("address") if isinstance(entry, dict) else None
            if isinstance(address, str) and _ADDRESS.match(address):
                return address
        return None

    return lookup
