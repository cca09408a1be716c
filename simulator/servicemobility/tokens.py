"""How ServiceMobility signs: HS256 with ``exp``/``iat`` (seconds since epoch), ``name``, ``email`` and
optionally ``expdb`` from a shared secret, or RS256/ES256 with a private key; and the hand-made tokens
the attacks need (unsigned, HS256 over any bytes)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_json(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


class TokenSigner:
    """Signs tokens like the platform: HS256 with ``exp``/``iat`` (seconds since epoch), ``name``,
    ``email`` and optionally ``expdb`` from a shared secret, or RS256/ES256 with a private key (PEM)."""

    ASYMMETRIC: Final = ("RS256", "ES256")

    def __init__(
        self,
        key: str | bytes,
        algorithm: str = "HS256",
        *,
        name: str = "ServiceMobility Integration",
        email: str = "integration@example.com",
        expdb: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        lifetime: timedelta = timedelta(hours=1),
        now: Clock | None = None,
    ) -> None:
        if algorithm != "HS256" and algorithm not in self.ASYMMETRIC:
            raise ValueError(f"algorithm must be HS256, RS256 or ES256, not {algorithm!r}")
        self.key = key
        self.algorithm = algorithm
        self.name = name
        self.email = email
        self.expdb = expdb
        self.audience = audience
        self.issuer = issuer
        self.lifetime = lifetime
        self.now: Clock = now or utcnow
        self._private_key = (
            serialization.load_pem_private_key(as_bytes(key), password=None)
            if algorithm in self.ASYMMETRIC
            else None
        )
        if algorithm == "RS256" and not isinstance(self._private_key, rsa.RSAPrivateKey):
            raise ValueError("RS256 needs an RSA private key")
        if algorithm == "ES256" and not (
            isinstance(self._private_key, ec.EllipticCurvePrivateKey)
            and isinstance(self._private_key.curve, ec.SECP256R1)
        ):
            raise ValueError("ES256 needs a P-256 (secp256r1) EC private key")

    @classmethod
    def from_private_key_pem(
        cls, pem: str | bytes, algorithm: str | None = None, **options: Any
    ) -> TokenSigner:
        """A signer for an RSA or P-256 private key; the algorithm follows the key when not given."""
        if algorithm is None:
            loaded = serialization.load_pem_private_key(as_bytes(pem), password=None)
            algorithm = "RS256" if isinstance(loaded, rsa.RSAPrivateKey) else "ES256"
        return cls(pem, algorithm, **options)

    def claims(self, *, issued_at: datetime | None = None) -> dict[str, Any]:
        """The platform's claims for a token issued at ``issued_at`` (default: now)."""
        issued = issued_at or self.now()
        claims: dict[str, Any] = {
            "exp": int((issued + self.lifetime).timestamp()),
            "iat": int(issued.timestamp()),
            "name": self.name,
            "email": self.email,
        }
        if self.expdb is not None:
            claims["expdb"] = self.expdb
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return claims

    def sign(self, claims: Mapping[str, Any], *, key: str | bytes | None = None) -> str:
        """Sign any claims with this signer's algorithm (and its key, unless another is given)."""
        signing: str | bytes | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = self.key if key is None else key
        if key is None and isinstance(self._private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            signing = self._private_key  # loaded once: parsing the PEM for every token is slow
        return jwt.encode(dict(claims), signing, algorithm=self.algorithm)

    def token(self, *, age: timedelta = timedelta(0)) -> str:
        """A valid token issued ``age`` ago (the platform re-uses the token of the triggering API call)."""
        return self.sign(self.claims(issued_at=self.now() - age))

    def verification_key(self) -> str | bytes:
        """What a receiver verifies with: the shared secret, or the public key PEM."""
        return self.public_key_pem() or self.key

    def public_key_pem(self) -> str | None:
        """The PEM of the public key for RS256/ES256, None for HS256."""
        if self._private_key is None:
            return None
        return (
            self._private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def describe(self) -> str:
        extras = "".join(
            f" {label}={value}" for label, value in (("aud", self.audience), ("iss", self.issuer)) if value
        )
        return f"{self.algorithm}{extras}"


def as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


@functools.cache
def throwaway_private_key_pem(algorithm: str, purpose: str) -> str:
    """A freshly generated RSA (RS256) or P-256 (ES256) private key, one per purpose and process."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@functools.cache
def _embedded_key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)


def embedded_jwk_token(claims: Mapping[str, Any]) -> str:
    """RS256 signed with a key of the token's own, whose public half rides in the header as ``jwk``
    (RFC 7515 §4.1.3): a receiver that takes the key from the token accepts anything."""
    key, jwk = _embedded_key()
    return jwt.encode(dict(claims), key, algorithm="RS256", headers={"jwk": jwk})


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """``alg: none``: a token with no signature at all (RFC 7519 §6, "Unsecured JWTs")."""
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(claims)}."


def hs256_token(claims: Mapping[str, Any], secret: str | bytes) -> str:
    """HS256 built by hand, so any bytes can be the secret (PyJWT refuses a PEM as an HMAC key)."""
    signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url_json(claims)}"
    signature = hmac.new(as_bytes(secret), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"

