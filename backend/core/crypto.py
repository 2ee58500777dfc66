"""Encryption of personal data at rest (个人信息保护法 art. 51): AES-256-GCM with numbered keys, and a
keyed hash (HMAC-SHA256) for finding equal values without decrypting.

The keys live in the secrets directory next to the JWT key (files `pii-<n>.key` and `pii-hash.key`,
mode 0600). A ciphertext is stored with the number of the key that made it, so keys can rotate: the
newest key on disk encrypts, any key still on disk decrypts (`fengqiao keys rotate`). The hash key
does not rotate: every stored hash would have to change at once, and a hash alone reveals nothing
without the key.

A missing or wrong key must stop the server with a clear message, never produce garbage: keys are
only ever created when neither exists (a new deployment; the start-up check in cases/party_data.py
first makes sure no stored row needs a key that is gone), and a wrong key fails AES-GCM's
authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets as token_source
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.core.secrets import load_or_create

HASH_KEY = "pii-hash.key"
_KEY_FILE = re.compile(r"^pii-(\d+)\.key$")
_NONCE = 12


class KeyProblem(Exception):
    """A key the data needs is absent or is not the one that encrypted it (said in Chinese and
    English: the command line prints it and stops)."""

    def __init__(self, message: str, message_en: str) -> None:
        self.message, self.message_en = message, message_en
        super().__init__(f"{message} / {message_en}")


def key_missing(directory: Path, name: str) -> KeyProblem:
    return KeyProblem(
        f"个人信息密钥 {name} 不在 {directory}：数据库里有用它加密的数据。请从备份恢复 secrets 目录"
        "（或检查 FENGQIAO_DATA_DIR），不要删除密钥文件",
        f"Personal-data key {name} is missing from {directory} but the database holds data encrypted "
        "with it: restore the secrets directory from a backup (or check FENGQIAO_DATA_DIR)",
    )


def key_mismatch(directory: Path, name: str) -> KeyProblem:
    return KeyProblem(
        f"个人信息密钥 {name}（{directory}）与数据库里的数据不符：密钥文件被替换或来自另一套部署。"
        "请恢复与数据库同一备份中的 secrets 目录",
        f"Personal-data key {name} in {directory} does not match the database (replaced, or from "
        "another deployment): restore the secrets directory from the same backup as the database",
    )


def _new_key() -> bytes:
    return base64.b64encode(AESGCM.generate_key(bit_length=256))


def _read_key(path: Path) -> bytes:
    raw = path.read_bytes().strip()
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise KeyProblem(
            f"个人信息密钥文件 {path} 已损坏（应为 32 字节密钥的 base64）",
            f"Personal-data key file {path} is damaged (expected base64 of 32 bytes)",
        )
    return key


class Keyring:
    """The data keys and the hash key of one secrets directory.

    Rereads the directory when asked for a key it has not seen, and for the newest key on every
    encryption, so a running server follows `fengqiao keys rotate` without a restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._keys: dict[int, AESGCM] = {}
        self._hash_key: bytes | None = None

    # --- keys on disk -------------------------------------------------------------------------------

    def key_ids(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _KEY_FILE.match(p.name)))

    def current_id(self) -> int:
        ids = self.key_ids()
        if not ids:
            self._first_use("pii-*.key")
            ids = self.key_ids()
        return ids[-1]

    def _first_use(self, wanted: str) -> None:
        # A new deployment has neither key: make both. One without the other means a key was lost,
        # and a fresh one would seal new data while the old stays unreadable: stop instead.
        if self.key_ids() or self.has_hash_key():
            raise key_missing(self.directory, wanted)
        self.create_first_keys()

    def has_hash_key(self) -> bool:
        return (self.directory / HASH_KEY).is_file()

    def create_first_keys(self) -> None:
        """Make key 1 and the hash key if absent. Only for a database with no encrypted data yet."""
        if not self.key_ids():
            load_or_create(self.directory, "pii-1.key", _new_key)
        load_or_create(self.directory, HASH_KEY, lambda: base64.b64encode(token_source.token_bytes(32)))

    def add_key(self) -> int:
        """A new newest key (for rotation); returns its number."""
        new_id = (self.key_ids() or [0])[-1] + 1
        load_or_create(self.directory, f"pii-{new_id}.key", _new_key)
        return new_id

    def remove_key(self, key_id: int) -> None:
        (self.directory / f"pii-{key_id}.key").unlink(missing_ok=True)
        self._keys.pop(key_id, None)

    def _aead(self, key_id: int) -> AESGCM:
        aead = self._keys.get(key_id)
        if aead is None:
            path = self.directory / f"pii-{key_id}.key"
            if not path.is_file():
                raise key_missing(self.directory, path.name)
            aead = self._keys[key_id] = AESGCM(_read_key(path))
        return aead

    def _hash(self) -> bytes:
        if self._hash_key is None:
            path = self.directory / HASH_KEY
            if not path.is_file():
                self._first_use(HASH_KEY)
            self._hash_key = _read_key(path)
        return self._hash_key

    # --- the operations -----------------------------------------------------------------------------

    def encrypt(self, key_id: int, field: str, value: str) -> str:
        """base64(nonce ‖ ciphertext ‖ tag). The field name and key number are authenticated, so a
        ciphertext moved to another column or relabelled with another key fails to decrypt."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead(key_id).encrypt(nonce, value.encode(), f"{field}:{key_id}".encode())
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, key_id: int, field: str, token: str) -> str:
        raw = base64.b64decode(token)
        try:
            return (
                self._aead(key_id).decrypt(raw[:_NONCE], raw[_NONCE:], f"{field}:{key_id}".encode()).decode()
            )
        except InvalidTag:
            raise key_mismatch(self.directory, f"pii-{key_id}.key") from None

    def digest(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of a normalised value, hex: equal values give equal digests (indexed lookups),
        and without the key a digest cannot be tested against a guessed phone number."""
        return hmac.new(self._hash(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


_keyrings: dict[Path, Keyring] = {}


def keyring(directory: Path | None = None) -> Keyring:
    """The process's keyring for the settings' secrets directory (or `directory`)."""
    if directory is None:
        from backend.settings import get_settings

        directory = get_settings().secrets_dir
    ring = _keyrings.get(directory)
    if ring is None:
        ring = _keyrings[directory] = Keyring(directory)
    return ring
