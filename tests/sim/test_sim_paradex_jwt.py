"""The Paradex simulator's ES384 JWTs (PyJWT): verified against the simulator's clock, the exchange's messages."""

from __future__ import annotations

import jwt
import pytest

from perpvol_core.exchanges.paradex.rest import jwt_claims
from perpvol_sim.paradex import JwtError, JwtExpired, JwtIssuer

NOW = 1_750_000_000.0


def test_round_trip_and_header() -> None:
    issuer = JwtIssuer("sim")
    token = issuer.encode({"sub": "0x1", "iat": int(NOW), "exp": int(NOW) + 300})
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES384" and header["kid"] == issuer.kid
    assert issuer.decode(token, NOW + 299)["sub"] == "0x1"
    assert jwt_claims(token) == {"sub": "0x1", "iat": int(NOW), "exp": int(NOW) + 300}
    with pytest.raises(JwtExpired, match=r"^missing or malformed jwt: token is expired by 1s$"):
        issuer.decode(token, NOW + 301)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda i: "abc", "token contains an invalid number of segments"),
        (lambda i: "a.b.c", "token is malformed"),
        (lambda i: jwt.encode({"exp": int(NOW) + 60}, "k" * 32, algorithm="HS256"), "signing method is invalid"),
        (lambda i: JwtIssuer("other").encode({"exp": int(NOW) + 60}), "token signature is invalid"),
        (lambda i: i.encode({"jti": "x"}), "token has no expiry"),
    ],
)
def test_refusals_carry_the_exchange_wording(make, message: str) -> None:
    issuer = JwtIssuer("sim")
    with pytest.raises(JwtError) as info:
        issuer.decode(make(issuer), NOW)
    assert str(info.value) == f"missing or malformed jwt: {message}"
    assert not isinstance(info.value, JwtExpired)


def test_connector_reads_no_claims_from_an_opaque_token() -> None:
    assert jwt_claims("opaque-read-only-token") == {}
    assert jwt_claims("a.b.c") == {}
