"""Signers: the local wallet key comes only from env or a secret file; any object with the protocol plugs in."""

from __future__ import annotations

from pathlib import Path

import pytest
from xmtp_core.identity import (
    EthereumAddress,
    InstallationKey,
    InstallationKeySigner,
    LocalWalletSigner,
    Passkey,
    Signer,
    SignerConfigurationError,
    SmartContractWalletSigner,
    build_link_wallet,
    build_register,
)
from xmtp_core.identity.signatures import recover_eip191, verify_ed25519ph

ANVIL_KEY_HEX = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_ADDRESS = EthereumAddress("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")


@pytest.mark.parametrize("value", [ANVIL_KEY_HEX, "0x" + ANVIL_KEY_HEX, f"  {ANVIL_KEY_HEX.upper()}\n"])
async def test_wallet_key_from_env(value: str) -> None:
    signer = LocalWalletSigner.from_env({"XMTP_WALLET_KEY": value})
    assert signer.identifier == ANVIL_ADDRESS
    assert recover_eip191("hi", await signer.sign("hi")).signer == ANVIL_ADDRESS


def test_wallet_key_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "wallet.key"
    secret.write_text(ANVIL_KEY_HEX + "\n")
    assert LocalWalletSigner.from_env({"XMTP_WALLET_KEY_FILE": str(secret)}).identifier == ANVIL_ADDRESS


def test_env_value_wins_over_file(tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_text("22" * 32)
    signer = LocalWalletSigner.from_env({"XMTP_WALLET_KEY": ANVIL_KEY_HEX, "XMTP_WALLET_KEY_FILE": str(other)})
    assert signer.identifier == ANVIL_ADDRESS


def test_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMTP_WALLET_KEY", ANVIL_KEY_HEX)
    assert LocalWalletSigner.from_env().identifier == ANVIL_ADDRESS


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "XMTP_WALLET_KEY"),
        ({"XMTP_WALLET_KEY": "zz" * 32}, "not hex"),
        ({"XMTP_WALLET_KEY": "11" * 31}, "32-byte"),
        ({"XMTP_WALLET_KEY": "00" * 32}, "secp256k1"),
        ({"XMTP_WALLET_KEY": "ff" * 32}, "secp256k1"),
        ({"XMTP_WALLET_KEY_FILE": "/nonexistent/wallet.key"}, "cannot read"),
    ],
)
def test_bad_wallet_configuration_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SignerConfigurationError, match=message):
        LocalWalletSigner.from_env(env)


def test_repr_does_not_leak_the_key() -> None:
    signer = LocalWalletSigner(bytes.fromhex(ANVIL_KEY_HEX))
    assert ANVIL_KEY_HEX not in repr(signer)
    assert ANVIL_ADDRESS.address in repr(signer)


async def test_installation_signer() -> None:
    signer = InstallationKeySigner(bytes(range(32)))
    assert signer.identifier == InstallationKey(signer.public_key)
    assert len(signer.public_key) == 32
    verify_ed25519ph(signer.public_key, "text", await signer.sign("text"))
    assert signer.private_seed == bytes(range(32))
    with pytest.raises(SignerConfigurationError):
        InstallationKeySigner(b"short")
    assert InstallationKeySigner.generate().public_key != InstallationKeySigner.generate().public_key


def test_protocols() -> None:
    assert isinstance(LocalWalletSigner.generate(), Signer)
    assert isinstance(InstallationKeySigner.generate(), Signer)
    assert not isinstance(LocalWalletSigner.generate(), SmartContractWalletSigner)


class _PasskeySigner:
    """A signer that claims a passkey identity: building needs WebAuthn data we cannot produce."""

    @property
    def identifier(self) -> Passkey:
        return Passkey(b"\x04" + b"\x01" * 64, "example.com")

    async def sign(self, text: str) -> bytes:
        return b"\x00" * 64


async def test_building_with_a_passkey_signer_is_refused_clearly() -> None:
    owner = LocalWalletSigner.generate()
    register = await build_register(owner, InstallationKeySigner.generate())
    with pytest.raises(SignerConfigurationError, match="passkey signers are not supported"):
        await build_link_wallet(register.inbox_id, owner, _PasskeySigner())
