"""Passwords (argon2id), random tokens, TOTP: the primitives the app's security is built from."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["COMMON_PASSWORDS", "Passwords", "new_token", "same", "token_hash", "totp_check", "totp_new_secret"]

#: refused outright (ASVS 6.2.12): the most common passwords of public breach lists, as typed
COMMON_PASSWORDS = frozenset(
    [
        "123456",
        "123456789",
        "12345678",
        "password",
        "qwerty123",
        "qwerty",
        "1234567890",
        "1234567",
        "111111",
        "123123",
        "abc123",
        "password1",
        "iloveyou",
        "000000",
        "1q2w3e4r",
        "qwertyuiop",
        "123321",
        "654321",
        "666666",
        "987654321",
        "password123",
        "123qwe",
        "1qaz2wsx",
        "welcome",
        "admin",
        "letmein",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "sunshine",
        "princess",
        "passw0rd",
        "trustno1",
        "superman",
        "charlie",
        "shadow",
        "master",
        "michael",
        "jennifer",
        "123456a",
        "aa123456",
        "zaq12wsx",
        "changeme",
        "secret1",
        "qwerty1",
        "asdfghjkl",
        "11111111",
        "88888888",
        "12341234",
        "00000000",
        "gutaxis",
        "gutaxis123",
    ]
)
MIN_PASSWORD = 10
MAX_PASSWORD = 256


class Passwords:
    """argon2id hashing with the app's parameters (time_cost, memory_cost KiB, parallelism)."""

    def __init__(self, params: tuple[int, int, int]):
        t, m, p = params
        self._ph = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=Type.ID)
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches; an unknown account (``stored`` None) costs the same time."""
        try:
            return self._ph.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @staticmethod
    def problem(password: str, email: str = "") -> str | None:
        """Why a new password is refused, or None."""
        if len(password) < MIN_PASSWORD:
            return f"use at least {MIN_PASSWORD} characters"
        if len(password) > MAX_PASSWORD:
            return f"use at most {MAX_PASSWORD} characters"
        if password.lower() in COMMON_PASSWORDS or (email and password.lower() == email.lower()):
            return "this password is too common; choose another"
        return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def totp_new_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_check(secret: str, code: str, last_step: int, *, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (current ±1), or None; a step at or before ``last_step`` is refused
    so that a code works once."""
    import pyotp

    code = "".join(ch for ch in str(code) if ch.isdigit())
    if len(code) != 6:
        return None
    t = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        step = int(t // 30) + offset
        if step > last_step and hmac.compare_digest(totp.at(step * 30), code):
            return step
    return None
