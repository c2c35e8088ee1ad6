"""Paradex Starknet auth messages: SNIP-12 revision-0 (Pedersen) typed data, hashing, signing, verifying.

Shared by the Paradex simulator (verifying ``POST /v1/auth``) and usable client side (signing). Follows
``exchanges/paradex-api.md`` §2.2-§2.4: the domain type is ``StarkNetDomain`` (no ``revision``), the
chain id is the short string of the chain name, and the signed path is always ``/v1/auth`` whatever
path the request is posted to. Everything here is plain integers in, plain integers out; private keys
never leave the caller.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starknet_py.hash.address import compute_address
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.utils import EC_ORDER, message_signature, private_to_stark_key, verify_message_signature
from starknet_py.utils.typed_data import TypedData

#: The path felt that every auth signature covers (also for ``POST /v1/auth/{pubkey}``).
AUTH_SIGNED_PATH = "/v1/auth"
TESTNET_CHAIN_ID = "PRIVATE_SN_POTC_SEPOLIA"
MAINNET_CHAIN_ID = "PRIVATE_SN_PARACLEAR_MAINNET"

_DOMAIN_TYPE = [
    {"name": "name", "type": "felt"},
    {"name": "chainId", "type": "felt"},
    {"name": "version", "type": "felt"},
]
_REQUEST_TYPE = [
    {"name": "method", "type": "felt"},
    {"name": "path", "type": "felt"},
    {"name": "body", "type": "felt"},
    {"name": "timestamp", "type": "felt"},
    {"name": "expiration", "type": "felt"},
]


def chain_id_felt(chain_id_name: str) -> int:
    """The chain id felt: the ASCII bytes of the chain name, big-endian (``PRIVATE_SN_POTC_SEPOLIA`` → 0x5052…)."""
    return int.from_bytes(chain_id_name.encode("ascii"), "big")


def _domain(chain_id_name: str) -> dict[str, Any]:
    return {"name": "Paradex", "chainId": hex(chain_id_felt(chain_id_name)), "version": "1"}


def build_auth_typed_data(chain_id_name: str, timestamp_s: int, expiration_s: int) -> dict[str, Any]:
    """The typed data a client signs for ``POST /v1/auth`` (paradex-py ``build_auth_message``)."""
    return {
        "message": {
            "method": "POST",
            "path": AUTH_SIGNED_PATH,
            "body": "",
            "timestamp": int(timestamp_s),
            "expiration": int(expiration_s),
        },
        "domain": _domain(chain_id_name),
        "primaryType": "Request",
        "types": {"StarkNetDomain": _DOMAIN_TYPE, "Request": _REQUEST_TYPE},
    }


def build_onboarding_typed_data(chain_id_name: str) -> dict[str, Any]:
    """The typed data signed for ``POST /v1/onboarding`` (§2.3): ``Constant{action: "Onboarding"}``."""
    return {
        "message": {"action": "Onboarding"},
        "domain": _domain(chain_id_name),
        "primaryType": "Constant",
        "types": {"StarkNetDomain": _DOMAIN_TYPE, "Constant": [{"name": "action", "type": "felt"}]},
    }


def _as_int(value: int | str) -> int:
    if isinstance(value, int):
        return value
    value = value.strip()
    return int(value, 16) if value.lower().startswith("0x") else int(value)


def typed_data_struct_hashes(typed_data: dict[str, Any]) -> tuple[int, int]:
    """(domain struct hash, primary struct hash) — exposed for the notes' test vectors and debugging."""
    td = TypedData.from_dict(typed_data)  # type: ignore[arg-type]
    return (
        td.struct_hash("StarkNetDomain", td.domain.to_dict()),
        td.struct_hash(td.primary_type, td.message),
    )


def auth_message_hash(typed_data: dict[str, Any], account_address: int | str) -> int:
    """Pedersen message hash of ``typed_data`` for ``account_address`` (starknet-py ``TypedData.message_hash``)."""
    return TypedData.from_dict(typed_data).message_hash(_as_int(account_address))  # type: ignore[arg-type]


def public_key_from_private(private_key: int | str) -> int:
    """The Stark public key (x coordinate) of a private key."""
    return private_to_stark_key(_as_int(private_key))


def sign_auth(
    private_key_int: int, account_address: int | str, chain_id_name: str, timestamp_s: int, expiration_s: int
) -> tuple[int, int]:
    """Sign the auth message; returns ``(r, s)`` (RFC 6979 nonce, seed 32, as paradex-py)."""
    msg_hash = auth_message_hash(build_auth_typed_data(chain_id_name, timestamp_s, expiration_s), account_address)
    return message_signature(msg_hash, _as_int(private_key_int))


def verify_auth(
    public_key: int | str,
    account_address: int | str,
    chain_id_name: str,
    timestamp_s: int,
    expiration_s: int,
    signature: tuple[int, int] | list[int],
) -> bool:
    """True when ``signature`` (r, s) signs the auth message for these header values with ``public_key``."""
    try:
        r, s = (int(v) for v in signature)
        msg_hash = auth_message_hash(build_auth_typed_data(chain_id_name, timestamp_s, expiration_s), account_address)
        return bool(verify_message_signature(msg_hash, [r, s], _as_int(public_key)))
    except (ValueError, TypeError, AssertionError, OverflowError):
        # Out-of-range r/s/key values make the C++ verifier assert; treat them as "does not verify".
        return False


def sign_onboarding(private_key_int: int, account_address: int | str, chain_id_name: str) -> tuple[int, int]:
    """Sign the ``POST /v1/onboarding`` message (§2.3); returns ``(r, s)``."""
    msg_hash = auth_message_hash(build_onboarding_typed_data(chain_id_name), account_address)
    return message_signature(msg_hash, _as_int(private_key_int))


def verify_onboarding(
    public_key: int | str, account_address: int | str, chain_id_name: str, signature: tuple[int, int] | list[int]
) -> bool:
    """True when ``signature`` signs the onboarding message of ``account_address`` with ``public_key``."""
    try:
        r, s = (int(v) for v in signature)
        msg_hash = auth_message_hash(build_onboarding_typed_data(chain_id_name), account_address)
        return bool(verify_message_signature(msg_hash, [r, s], _as_int(public_key)))
    except (ValueError, TypeError, AssertionError, OverflowError):
        return False


def format_signature_header(signature: tuple[int, int]) -> str:
    """``PARADEX-STARKNET-SIGNATURE`` value: ``["<r decimal>","<s decimal>"]`` (no spaces)."""
    return json.dumps([str(int(v)) for v in signature], separators=(",", ":"))


def parse_signature_header(value: str) -> tuple[int, int]:
    """Parse ``["r","s"]`` (decimal or 0x-hex strings, or bare numbers); ValueError when malformed."""
    try:
        parts = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError("signature is not a JSON array") from exc
    if not isinstance(parts, list) or len(parts) != 2:
        raise ValueError("signature must be a two-element array [r, s]")
    r, s = (_as_int(p) if isinstance(p, str) else int(p) for p in parts)
    return r, s


def auth_headers(
    private_key_int: int, account_address: int | str, chain_id_name: str, timestamp_s: int, expiration_s: int
) -> dict[str, str]:
    """The four ``PARADEX-*`` headers of a ``POST /v1/auth`` request, signed with ``private_key_int``."""
    signature = sign_auth(private_key_int, account_address, chain_id_name, timestamp_s, expiration_s)
    return {
        "PARADEX-STARKNET-ACCOUNT": hex(_as_int(account_address)),
        "PARADEX-STARKNET-SIGNATURE": format_signature_header(signature),
        "PARADEX-TIMESTAMP": str(int(timestamp_s)),
        "PARADEX-SIGNATURE-EXPIRATION": str(int(expiration_s)),
    }


def grind_key(seed: int, key_order: int = EC_ORDER) -> int:
    """paradex-py/StarkWare ``grind_key``: a uniformly distributed Stark private key from a 256-bit seed."""
    limit = 2**256 - 2**256 % key_order

    def _pad_even_hex(value: int) -> str:
        text = f"{value:x}"
        return text if len(text) % 2 == 0 else "0" + text

    index = 0
    while True:
        digest = hashlib.sha256(bytes.fromhex(_pad_even_hex(seed) + _pad_even_hex(index))).digest()
        key = int.from_bytes(digest, "big")
        if key < limit:
            return key % key_order
        index += 1


def l2_private_key_from_eth_signature(eth_signature_hex: str) -> int:
    """§2.2 step 2: the L2 private key from the EIP-712 ``STARK Key`` signature of the L1 key (its ``r`` part)."""
    sig = eth_signature_hex[2:] if eth_signature_hex.startswith("0x") else eth_signature_hex
    return grind_key(int(sig[:64], 16))


def account_address_from_public_key(public_key: int, proxy_class_hash: int | str, account_class_hash: int | str) -> int:
    """§2.2 step 3: the Paradex account address of a Starknet-key account (proxy deployed with salt = pubkey)."""
    return compute_address(
        class_hash=_as_int(proxy_class_hash),
        constructor_calldata=[_as_int(account_class_hash), get_selector_from_name("initialize"), 2, public_key, 0],
        salt=public_key,
        deployer_address=0,
    )
