"""Site signing keys: Ed25519 key pairs in PEM files, and the coordinating centre's register.

A site keeps ``<site>.key`` (its private key, file mode 0600) and gives ``<site>.pub`` to the
coordinating centre, which registers it as ``<keys folder>/<site>.pub`` (config
``federated.keys``, default ``sites/keys``). A key is named by its *key id*, the sha256 of its
raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from validation.exceptions import ConfigError

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
T = TypeVar("T")


def _check_site(site: str) -> str:
    if not isinstance(site, str) or not SITE_ID.match(site):
        raise ConfigError(
            f"site: expected a site id like 's01' (lower-case letters, digits, '-', '_'), "
            f"got {site!r}"
        )
    return site


def generate_keys(site: str, out: str | Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair for ``site``: ``<out>/<site>.key`` and ``<out>/<site>.pub``.

    Parameters
    ----------
    site : str
        The site id (as in ``sites/<site>.yaml``).
    out : str or Path
        Folder to write to (created if needed).
    overwrite : bool, default False
        Replace existing key files; by default an existing key is never replaced, since
        bundles signed with it would no longer verify once the centre registers the new one.

    Returns
    -------
    tuple of Path
        The private key file (PEM PKCS#8, unencrypted, mode 0600) and the public key file (PEM
        SubjectPublicKeyInfo).

    Raises
    ------
    ConfigError
        A malformed site id, or key files that exist already (without ``overwrite``).

    Examples
    --------
    >>> import tempfile
    >>> key, pub = generate_keys("s01", tempfile.mkdtemp())
    >>> key.name, pub.name, oct(key.stat().st_mode & 0o777)
    ('s01.key', 's01.pub', '0o600')
    """
    _check_site(site)
    out = Path(out)
    key_path, pub_path = out / f"{site}.key", out / f"{site}.pub"
    existing = [str(p) for p in (key_path, pub_path) if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"out: key file(s) {existing} exist already; a key is never overwritten")
    out.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if key_path.exists():
        key_path.unlink()
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.chmod(key_path, 0o600)  # whatever the umask
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path.write_bytes(public)
    return key_path, pub_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a site's private key (PEM, unencrypted Ed25519).

    Raises
    ------
    ConfigError
        The file is missing, readable by others than its owner, or not an Ed25519 private key.
    """
    path = Path(path)
    data = _key_bytes(path, "key", "private key")
    if path.stat().st_mode & 0o077:
        raise ConfigError(
            f"key: private key file {path} is readable by others (mode "
            f"{oct(path.stat().st_mode & 0o777)}); expected mode 0600 (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"key: {path} is not an unencrypted PEM private key ({exc})") from None
    return _ed25519(key, Ed25519PrivateKey, path, "key")


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Read a registered public key (PEM, Ed25519).

    Raises
    ------
    ConfigError
        The file is missing or not an Ed25519 public key.
    """
    path = Path(path)
    data = _key_bytes(path, "keys", "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"keys: {path} is not a PEM public key ({exc})") from None
    return _ed25519(key, Ed25519PublicKey, path, "keys")


def _key_bytes(path: Path, option: str, what: str) -> bytes:
    """The bytes of a key file; a missing file is a ConfigError naming ``option``."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{option}: {what} file {path} not found") from None


def _ed25519(key: Any, kind: type[T], path: Path, option: str) -> T:
    """``key`` when it is an Ed25519 key of ``kind``; else a ConfigError naming ``option``."""
    if not isinstance(key, kind):
        raise ConfigError(f"{option}: {path}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The sha256 (hex) of the raw 32-byte public key: names a key in bundles and messages.

    Examples
    --------
    >>> private = Ed25519PrivateKey.generate()
    >>> key_id(private) == key_id(private.public_key())
    True
    """
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def registered_keys(
    source: str | Path, sites: list[str] | None = None
) -> dict[str, Ed25519PublicKey]:
    """The coordinating centre's register: ``{site: public key}`` from ``<source>/<site>.pub``.

    Parameters
    ----------
    source : str or Path
        A folder of ``<site>.pub`` files, or one ``.pub`` file.
    sites : list of str, optional
        The study's site ids: a key file for any other site is an error (a typo would
        otherwise leave a site without a key).

    Raises
    ------
    ConfigError
        A missing folder, a malformed key file, or a key file for a site outside the study.
    """
    source = Path(source)
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = sorted(source.glob("*.pub"))
    else:
        raise ConfigError(f"keys: expected a folder of <site>.pub files, got {source} (not found)")
    register = {}
    for path in files:
        site = _check_site(path.stem)
        if sites is not None and site not in sites:
            raise ConfigError(
                f"keys: {path} registers a key for site {site!r}, which is not in the study "
                f"(sites: {', '.join(sites)})"
            )
        register[site] = load_public_key(path)
    return register
