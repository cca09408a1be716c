"""One interface's credentials as S-360's back office holds them ("Choose the authentication mode"):
NONE, BASIC_AUTH (login + password) or API_KEY (the login field holds the header name, the password
field the key), and the headers each mode puts on every POST."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class AuthMode(StrEnum):
    """The authentication modes of the platform's back office ("Choose the authentication mode")."""

    NONE = "NONE"
    BASIC_AUTH = "BASIC_AUTH"
    API_KEY = "API_KEY"


def _no_headers(auth: Auth) -> dict[str, str]:
    return {}


def _basic_headers(auth: Auth) -> dict[str, str]:
    token = base64.b64encode(f"{auth.login}:{auth.password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def _api_key_headers(auth: Auth) -> dict[str, str]:
    # The login field holds the header NAME, the password field the key.
    return {auth.login: auth.password}


AUTH_HEADERS: dict[AuthMode, Callable[[Auth], dict[str, str]]] = {
    AuthMode.NONE: _no_headers,
    AuthMode.BASIC_AUTH: _basic_headers,
    AuthMode.API_KEY: _api_key_headers,
}
# CLI spellings: `none`, `basic:LOGIN:PASSWORD`, `api-key:HEADER:KEY` (the mode names work too, with `-` or `_`:
# `basic-auth:…`, as the contract suite's failures print it).
AUTH_CLI_NAMES = {"none": AuthMode.NONE, "basic": AuthMode.BASIC_AUTH, "api-key": AuthMode.API_KEY}


@dataclass(frozen=True)
class Auth:
    """One interface's credentials exactly as the back office holds them: a mode, a login, a password."""

    mode: AuthMode = AuthMode.NONE
    login: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", AuthMode(self.mode))
        if self.mode is AuthMode.BASIC_AUTH and (not self.login or ":" in self.login):
            raise ValueError("BASIC_AUTH needs a login without ':' (RFC 7617)")
        if self.mode is AuthMode.API_KEY and (not self.login or not self.password):
            raise ValueError("API_KEY needs a header name (login) and a key (password)")

    def headers(self) -> dict[str, str]:
        """The headers every request of this interface carries."""
        return AUTH_HEADERS[self.mode](self)

    def describe(self) -> str:
        """The mode and login, never the password or key."""
        return self.mode.value if self.mode is AuthMode.NONE else f"{self.mode.value} (login {self.login!r})"

    @classmethod
    def parse(cls, text: str) -> Auth:
        """``none``, ``basic:LOGIN:PASSWORD`` or ``api-key:HEADER:KEY`` (the secret may contain ':'); the mode's
        own name works too (``BASIC_AUTH``, ``basic-auth``)."""
        kind, _, rest = text.partition(":")
        mode = AUTH_CLI_NAMES.get(kind.lower()) or AuthMode.__members__.get(kind.upper().replace("-", "_"))
        if mode is None:
            raise ValueError(
                f"unknown auth mode {kind!r}: use none, basic:LOGIN:PASSWORD or api-key:HEADER:KEY"
            )
        if mode is AuthMode.NONE:
            if rest:
                raise ValueError("auth 'none' takes no login or password")
            return cls()
        login, sep, password = rest.partition(":")
        if not sep:
            raise ValueError(f"auth {kind!r} needs LOGIN:SECRET, e.g. {kind}:x-api-key:s3cret")
        return cls(mode, login, password)

