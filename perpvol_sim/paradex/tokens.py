"""ES384 JWTs (like the exchange's example header), read-only tokens and the account registry (addresses,
main keys, subkeys): :class:`JwtIssuer`, :class:`ReadOnlyToken`, :class:`AccountRegistry`.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class JwtError(Exception):
    """A bearer token that does not authenticate; ``message`` is the exchange's wording."""


class JwtExpired(JwtError):
    pass


class JwtIssuer:
    """Signs and verifies ES384 JWTs (PyJWT) with a per-simulator P-384 key."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._key = ec.generate_private_key(ec.SECP384R1())
        self.kid = uuid.uuid4().hex[:16]

    def encode(self, claims: dict[str, Any]) -> str:
        return pyjwt.encode(claims, self._key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})

    def decode(self, token: str, now: float) -> dict[str, Any]:
        """Verified claims; raises :class:`JwtExpired` / :class:`JwtError` with the exchange's messages.

        Expiry is checked against ``now`` (the simulator's clock, which tests shift), not the wall clock.
        """
        if len(token.split(".")) != 3:
            raise JwtError("missing or malformed jwt: token contains an invalid number of segments")
        try:
            claims: dict[str, Any] = pyjwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES384"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except pyjwt.InvalidAlgorithmError as exc:
            raise JwtError("missing or malformed jwt: signing method is invalid") from exc
        except pyjwt.InvalidSignatureError as exc:
            raise JwtError("missing or malformed jwt: token signature is invalid") from exc
        except pyjwt.InvalidTokenError as exc:
            raise JwtError("missing or malformed jwt: token is malformed") from exc
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise JwtError("missing or malformed jwt: token has no expiry")
        if now >= exp:
            # Go's duration formatting, as in the recorded body ("token is expired by 9.46872137s").
            raise JwtExpired(f"missing or malformed jwt: token is expired by {_go_seconds(now - exp)}")
        return claims

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-384",
                    "alg": "ES384",
                    "use": "sig",
                    "kid": self.kid,
                    "x": _b64url(numbers.x.to_bytes(48, "big")),
                    "y": _b64url(numbers.y.to_bytes(48, "big")),
                }
            ]
        }


def _go_seconds(seconds: float) -> str:
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text or '0'}s"


# ---------------------------------------------------------------------------------------------------
# Accounts, keys and tokens


@dataclass
class ReadOnlyToken:
    token_id: str
    lookup_id: str
    account: int
    name: str
    created_at_s: int
    expiry_at_s: int
    revoked_at_s: int | None = None

    def as_api(self) -> dict[str, Any]:
        """``ApiToken`` shape (timestamps documented as ns)."""
        return {
            "token_id": self.token_id,
            "lookup_id": self.lookup_id,
            "name": self.name,
            "kind": "jwt",
            "allowed_cidrs": [],
            "created_at": self.created_at_s * 1_000_000_000,
            "expiry_at": self.expiry_at_s * 1_000_000_000,
            "last_updated_at": self.created_at_s * 1_000_000_000,
            "revoked_at": None if self.revoked_at_s is None else self.revoked_at_s * 1_000_000_000,
        }


class AccountRegistry:
    """Accounts (address → main public key + subkeys) and read-only tokens; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._main_key: dict[int, int] = {}
        self._subkeys: dict[int, set[int]] = {}
        self._tokens: dict[str, ReadOnlyToken] = {}
        self._revoked_jwt_subjects: set[int] = set()

    def register(self, address: int, main_public_key: int, subkeys: Iterable[int] = ()) -> None:
        with self._lock:
            self._main_key[address] = main_public_key
            self._subkeys.setdefault(address, set()).update(subkeys)

    def add_subkey(self, address: int, public_key: int) -> None:
        with self._lock:
            if address not in self._main_key:
                raise KeyError(hex(address))
            self._subkeys[address].add(public_key)

    def remove_subkey(self, address: int, public_key: int) -> None:
        with self._lock:
            self._subkeys.get(address, set()).discard(public_key)

    def is_registered(self, address: int) -> bool:
        with self._lock:
            return address in self._main_key

    def main_key(self, address: int) -> int | None:
        with self._lock:
            return self._main_key.get(address)

    def key_allowed(self, address: int, public_key: int) -> bool:
        with self._lock:
            return self._main_key.get(address) == public_key or public_key in self._subkeys.get(address, set())

    def public_keys(self, address: int) -> list[int]:
        with self._lock:
            main = self._main_key.get(address)
            return ([main] if main is not None else []) + sorted(self._subkeys.get(address, set()))

    def add_token(self, token: ReadOnlyToken) -> None:
        with self._lock:
            self._tokens[token.token_id] = token

    def token(self, token_id: str) -> ReadOnlyToken | None:
        with self._lock:
            return self._tokens.get(token_id)

    def tokens_of(self, address: int) -> list[ReadOnlyToken]:
        with self._lock:
            return [t for t in self._tokens.values() if t.account == address]

    def revoke(self, token_id_or_lookup: str, now_s: int) -> bool:
        with self._lock:
            for t in self._tokens.values():
                if token_id_or_lookup in (t.token_id, t.lookup_id) and t.revoked_at_s is None:
                    t.revoked_at_s = now_s
                    return True
        return False
