"""Per-person encryption (crypto-shredding): free text and uploaded files sealed with the person's own key.

Off unless a master key is given (``gutaxis serve --master-key`` / ``GUTAXIS_MASTER_KEY``: 32 random bytes
as 64 hex digits or base64). Then every person gets a random 256-bit data key, wrapped (AES-256-GCM) by the
master key and kept in a key store **outside** the database (``GUTAXIS_KEY_STORE``, default
``<data dir>/keys``; one file per person), which ``gutaxis admin backup`` and ``pg_dump`` do not copy.
The master key itself is never written anywhere.

Sealed with the person's key (AES-256-GCM; the key id and a random nonce travel with the ciphertext, the
table, column, person and the row's client id are the associated data, so a value moved to another row or
person does not open): meal text, symptom notes, dietitian notes, messages, upload file names and the
error messages of uploads and jobs (they may name the file) (mapper events: ``before_insert`` and
``before_update`` seal, ``load`` and ``refresh`` open), and the uploaded files themselves (sealed when
their :class:`~gutaxis.web.models.Upload` row is first stored; readers go through :func:`readable`).
Erasure deletes the key first (:func:`erase_key`), so the person's rows and files in every earlier
backup stop opening: they read as :data:`ERASED`, never a crash. Text stored before the key was
switched on stays readable as it was (it has no ``gxe1:`` prefix). SQL cannot search inside sealed text
(the app does not).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import GutaxisError, InputError
from .models import Job, MealEntry, Message, Note, SymptomEntry, Upload

__all__ = [
    "DAMAGED",
    "ERASED",
    "FIELDS",
    "KeyStore",
    "MasterKeyError",
    "attach",
    "erase_key",
    "file_ad",
    "parse_master_key",
    "readable",
    "store_of",
]

#: what a sealed value whose person's key was erased reads as
ERASED = "unreadable: erased"
#: what a sealed value that does not open under its (present) key reads as: altered or moved
DAMAGED = "unreadable: damaged"
#: the sealed columns of each model
FIELDS: dict[type, tuple[str, ...]] = {
    MealEntry: ("text",),
    SymptomEntry: ("note",),
    Note: ("text",),
    Message: ("text",),
    Upload: ("filename", "error"),  # a failed upload's error names its file
    Job: ("error",),
}
_PREFIX = "gxe1:"
_FILE_MAGIC = b"GXE1FILE"
_CHECK = b"gutaxis key store v1"


class MasterKeyError(GutaxisError):
    """The master key is malformed or does not open the key store."""


def parse_master_key(value: str) -> bytes:
    """32 bytes from 64 hex digits or base64 (standard or URL-safe); :class:`MasterKeyError` otherwise."""
    v = value.strip()
    raw: bytes | None = None
    if len(v) == 64:
        with contextlib.suppress(ValueError):
            raw = bytes.fromhex(v)
    if raw is None:
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(v.replace("-", "+").replace("_", "/"), validate=True)
    if raw is None or len(raw) != 32:
        raise MasterKeyError(
            "the master key (--master-key / GUTAXIS_MASTER_KEY) must be 32 random bytes written as 64 hex digits "
            "or base64; make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return raw


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s.encode("ascii"))


class KeyStore:
    """The wrapped per-person data keys: one file ``person-<id>.key`` each in ``path``, outside the database.

    Opening it checks the master key against ``master.check`` (written on first use), so a wrong master
    key refuses to start instead of writing data no one can read later.
    """

    def __init__(self, path: Path, master: bytes, upload_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.upload_dir = Path(upload_dir) if upload_dir is not None else None
        self._aead = AESGCM(master)
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[tuple[int, int, int], str, bytes]] = {}
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        check = self.path / "master.check"
        if check.exists():
            try:
                blob = check.read_bytes()
                self._aead.decrypt(blob[:12], blob[12:], _CHECK)
            except (InvalidTag, ValueError):
                raise MasterKeyError(
                    f"the master key does not open the key store {self.path} (a wrong --master-key / "
                    "GUTAXIS_MASTER_KEY, or another deployment's key store); refusing to start"
                ) from None
        else:
            nonce = os.urandom(12)
            self._write_new(check, nonce + self._aead.encrypt(nonce, _CHECK, _CHECK))

    def __repr__(self) -> str:  # never the keys
        return f"KeyStore({str(self.path)!r})"

    def _file(self, pid: int) -> Path:
        return self.path / f"person-{int(pid)}.key"

    @staticmethod
    def _write_new(path: Path, data: bytes) -> bool:
        """Write ``data`` to ``path`` unless it exists (atomically, durably); whether this call wrote it."""
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # fails if another process made it first
            except FileExistsError:
                return False
        finally:
            os.unlink(tmp)
        _fsync_dir(path.parent)
        return True

    def _ad(self, pid: int, kid: str) -> bytes:
        return f"gutaxis-person-key|{int(pid)}|{kid}".encode()

    def key(self, pid: int, *, create: bool = False) -> tuple[str, bytes] | None:
        """``(key id, data key)`` of person ``pid``; a new one when ``create`` and there is none; else None."""
        f = self._file(pid)
        with self._lock:
            for _ in range(2):
                try:
                    st = f.stat()
                except FileNotFoundError:
                    self._cache.pop(pid, None)
                    if not create:
                        return None
                    kid, key = secrets.token_hex(8), AESGCM.generate_key(bit_length=256)
                    nonce = os.urandom(12)
                    doc = {"v": 1, "person": int(pid), "key_id": kid}
                    doc["wrapped"] = _b64(nonce + self._aead.encrypt(nonce, key, self._ad(pid, kid)))
                    self._write_new(f, json.dumps(doc).encode())
                    continue  # read back what is there (another worker may have won the race)
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
                hit = self._cache.get(pid)
                if hit is not None and hit[0] == sig:
                    return hit[1], hit[2]
                doc = json.loads(f.read_bytes())
                blob = _unb64(doc["wrapped"])
                try:
                    key = self._aead.decrypt(blob[:12], blob[12:], self._ad(pid, doc["key_id"]))
                except InvalidTag:
                    raise MasterKeyError(
                        f"the key file of person {int(pid)} does not open under the master key"
                    ) from None
                self._cache[pid] = (sig, doc["key_id"], key)
                return doc["key_id"], key
        return None

    def erase(self, pid: int) -> bool:
        """Delete person ``pid``'s key (durably); whether there was one."""
        with self._lock:
            self._cache.pop(pid, None)
            try:
                self._file(pid).unlink()
            except FileNotFoundError:
                return False
            _fsync_dir(self.path)
            return True

    # ------------------------------------------------------------------ text
    def seal(self, pid: int, ad: bytes, plain: str) -> str:
        got = self.key(pid, create=True)
        assert got is not None
        kid, key = got
        nonce = os.urandom(12)
        return f"{_PREFIX}{kid}:{_b64(nonce + AESGCM(key).encrypt(nonce, plain.encode('utf-8'), ad))}"

    def open(self, pid: int, ad: bytes, value: str) -> str:
        if not value.startswith(_PREFIX):
            return value  # stored before encryption was switched on
        kid, _, body = value[len(_PREFIX) :].partition(":")
        got = self.key(pid)
        if got is None or got[0] != kid:
            return ERASED
        try:
            blob = _unb64(body)
            return AESGCM(got[1]).decrypt(blob[:12], blob[12:], ad).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            return DAMAGED

    # ------------------------------------------------------------------ files
    def seal_file(self, pid: int, path: Path, ad: bytes) -> None:
        """Encrypt ``path`` in place (atomically) unless it is sealed already."""
        data = path.read_bytes()
        if data.startswith(_FILE_MAGIC):
            return
        got = self.key(pid, create=True)
        assert got is not None
        kid, key = got
        nonce = os.urandom(12)
        out = _FILE_MAGIC + kid.encode("ascii") + nonce + AESGCM(key).encrypt(nonce, data, ad)
        fd, tmp = tempfile.mkstemp(prefix=".seal-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(out)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def open_file(self, pid: int, path: Path, ad: bytes) -> bytes | None:
        """The plain bytes of a sealed file; None when ``path`` is not sealed; :class:`InputError` when its key
        was erased or it does not open."""
        data = path.read_bytes()
        if not data.startswith(_FILE_MAGIC):
            return None
        n = len(_FILE_MAGIC)
        kid, nonce, ct = data[n : n + 16].decode("ascii", "replace"), data[n + 16 : n + 28], data[n + 28 :]
        got = self.key(pid)
        if got is None or got[0] != kid:
            raise InputError(f"the uploaded file is {ERASED}: its person's key was deleted")
        try:
            return AESGCM(got[1]).decrypt(nonce, ct, ad)
        except InvalidTag:
            raise InputError(f"the uploaded file is {DAMAGED}") from None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------- wiring to the ORM
_STORES: weakref.WeakKeyDictionary[Engine, KeyStore] = weakref.WeakKeyDictionary()


def attach(engine: Engine, settings) -> KeyStore | None:
    """Switch per-person encryption on for every session on ``engine`` when ``settings.master_key`` is set
    (checking it against the key store: :class:`MasterKeyError` if it does not open it); else nothing."""
    mk = getattr(settings, "master_key", None)
    if not mk:
        return None
    store = KeyStore(settings.key_store, parse_master_key(mk), settings.upload_dir)
    _STORES[engine] = store
    return store


def store_of(bind: Any) -> KeyStore | None:
    """The key store attached to a session's, connection's or engine's engine (None: encryption off)."""
    if bind is None:
        return None
    if hasattr(bind, "get_bind"):  # a Session
        try:
            bind = bind.get_bind()
        except Exception:
            return None
    eng = getattr(bind, "engine", bind)
    try:
        return _STORES.get(eng)
    except TypeError:
        return None


def _ad(target: Any, col: str) -> bytes:
    d = target.__dict__
    return f"gutaxis|{type(target).__tablename__}|{col}|{d.get('person_id')}|{d.get('client_id')}".encode()


def _seal(target: Any, store: KeyStore, cols: tuple[str, ...]) -> None:
    stash = {}
    for col in cols:
        v = target.__dict__.get(col)
        if isinstance(v, str) and not v.startswith(_PREFIX):
            stash[col] = v
            setattr(target, col, store.seal(target.person_id, _ad(target, col), v))
    target._gx_plain = stash


def _before_insert(mapper, connection, target) -> None:
    store = store_of(connection)
    if store is None:
        return
    if isinstance(target, Upload) and store.upload_dir is not None and target.stored_name:
        path = store.upload_dir / target.stored_name
        if path.is_file():
            store.seal_file(target.person_id, path, file_ad(target))
    _seal(target, store, FIELDS[type(target)])


def _before_update(mapper, connection, target) -> None:
    store = store_of(connection)
    if store is None:
        return
    state = inspect(target)
    changed = tuple(c for c in FIELDS[type(target)] if state.attrs[c].history.added)
    _seal(target, store, changed)


def _after_write(mapper, connection, target) -> None:
    stash = target.__dict__.pop("_gx_plain", None) or {}
    for col, plain in stash.items():
        set_committed_value(target, col, plain)  # the object keeps showing the plain text


def _open(target: Any, store: KeyStore | None, cols) -> None:
    if store is None:
        return
    for col in cols:
        v = target.__dict__.get(col)
        if isinstance(v, str) and v.startswith(_PREFIX):
            set_committed_value(target, col, store.open(target.__dict__.get("person_id"), _ad(target, col), v))


def _on_load(target, context) -> None:
    _open(target, store_of(context.session), FIELDS[type(target)])


def _on_refresh(target, context, attrs) -> None:
    cols = FIELDS[type(target)]
    _open(target, store_of(context.session), cols if attrs is None else tuple(c for c in cols if c in attrs))


for _model in FIELDS:
    event.listen(_model, "before_insert", _before_insert)
    event.listen(_model, "before_update", _before_update)
    event.listen(_model, "after_insert", _after_write)
    event.listen(_model, "after_update", _after_write)
    event.listen(_model, "load", _on_load)
    event.listen(_model, "refresh", _on_refresh)


# ---------------------------------------------------------------------- uploaded files
def file_ad(upload: Upload) -> bytes:
    return f"gutaxis|upload-file|{upload.person_id}|{upload.stored_name}".encode()


def erase_key(db, pid: int) -> bool:
    """Delete person ``pid``'s data key, if encryption is on (erasure does this first); whether one went."""
    store = store_of(db)
    return store.erase(pid) if store is not None else False


@contextlib.contextmanager
def readable(upload: Upload, path: Path) -> Iterator[Path]:
    """A path holding ``upload``'s plain bytes: ``path`` itself when the file is not sealed, else a
    temporary decrypted copy beside it (removed on exit). :class:`InputError` when its key was erased."""
    store = store_of(object_session(upload))
    plain = store.open_file(upload.person_id, path, file_ad(upload)) if store is not None and path.is_file() else None
    if plain is None:
        yield path
        return
    fd, tmp = tempfile.mkstemp(prefix=".plain-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(plain)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
