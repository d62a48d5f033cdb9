"""How the app is configured: where its database and files live, and its security parameters.

Defaults suit one person or a small practice on one machine: SQLite (WAL) in the user's data
directory. ``GUTAXIS_DATABASE_URL`` (or ``gutaxis serve --database-url``) takes PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "default_data_dir"]

MB = 1024 * 1024


def default_data_dir() -> Path:
    """The user's data directory for gutaxis (``GUTAXIS_DATA_DIR`` overrides)."""
    env = os.environ.get("GUTAXIS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("gutaxis", appauthor=False)) / "app"


@dataclass
class Settings:
    """Everything the app reads at start-up.

    Attributes
    ----------
    data_dir
        Holds ``gutaxis.db`` (SQLite default) and ``uploads/``.
    database_url
        SQLAlchemy URL; default ``sqlite:///<data_dir>/gutaxis.db``.
    secure_cookies
        ``__Host-`` Secure cookies (browsers accept them on https and on http://127.0.0.1).
    argon2
        argon2id parameters (time_cost, memory_cost KiB, parallelism). The default is the
        OWASP minimum (19 MiB, t=2, p=1); tests pass a cheaper profile.
    max_upload
        Largest upload (bytes), compressed or not; 25 MB.
    max_unpacked
        Largest a compressed upload may grow to when unpacked (bytes).
    session_idle_minutes, session_max_hours
        A session ends after this long idle, or this long after login.
    login_limit, login_window_minutes
        Failed logins per account or address before 429, and the window they count in.
    fndds, sr28, usda, nova, reference
        Food data folders/files and a healthy reference JSON (default: the dataset cache; the
        app says what is missing).
    run_jobs_inline
        Run background jobs in the request (tests and the load bench only).
    job_lapse_seconds
        A running job whose worker sent no heartbeat for this long (it died) goes back to the queue
        (``GUTAXIS_JOB_LAPSE_SECONDS``; the worker beats every quarter of it).
    database_key
        Passphrase that encrypts the SQLite database with SQLCipher (``GUTAXIS_DATABASE_KEY``;
        ``pip install 'gutaxis[sqlcipher]'``); None: not encrypted. Never shown in the repr.
    master_key
        Switches per-person encryption on (:mod:`gutaxis.web.person_keys`, ``GUTAXIS_MASTER_KEY``): 32
        random bytes as 64 hex digits or base64; wraps each person's data key. None: off. Never shown.
    key_store_dir, key_store
        Folder of the wrapped per-person keys, outside the database and outside the backups
        (``GUTAXIS_KEY_STORE``; default ``<data_dir>/keys``).
    """

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    secure_cookies: bool = True
    argon2: tuple[int, int, int] = (2, 19456, 1)
    max_upload: int = 25 * MB
    max_unpacked: int = 100 * MB
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_limit: int = 10
    login_window_minutes: int = 15
    invitation_days: int = 7
    fndds: Path | None = None
    sr28: Path | None = None
    usda: Path | None = None
    nova: Path | None = None
    reference: Path | None = None
    plan_draws: int = 200
    run_jobs_inline: bool = False
    job_lapse_seconds: float = field(default_factory=lambda: float(os.environ.get("GUTAXIS_JOB_LAPSE_SECONDS", 60)))
    database_key: str | None = field(default_factory=lambda: os.environ.get("GUTAXIS_DATABASE_KEY") or None, repr=False)
    master_key: str | None = field(default_factory=lambda: os.environ.get("GUTAXIS_MASTER_KEY") or None, repr=False)
    key_store_dir: Path | None = field(
        default_factory=lambda: Path(os.environ["GUTAXIS_KEY_STORE"]) if os.environ.get("GUTAXIS_KEY_STORE") else None
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.database_url is None:
            self.database_url = os.environ.get("GUTAXIS_DATABASE_URL") or f"sqlite:///{self.data_dir / 'gutaxis.db'}"

    @property
    def key_store(self) -> Path:
        return Path(self.key_store_dir) if self.key_store_dir is not None else self.data_dir / "keys"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def cookie_name(self) -> str:
        return "__Host-gutaxis" if self.secure_cookies else "gutaxis"

    @property
    def csrf_cookie_name(self) -> str:
        return "__Host-gutaxis-csrf" if self.secure_cookies else "gutaxis-csrf"
