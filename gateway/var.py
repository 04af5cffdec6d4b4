"""The ``var/`` folder and the secrets in it: the folder is 0700, every secret 0600 from the
moment it exists (never written first and narrowed afterwards, when another user could open it).

``python -m gateway.var secret PATH`` prints the secret in PATH, creating it first when missing;
``scripts/run.sh`` keeps the Redis password this way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path


def ensure_var_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing and make it 0700; returns it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode does not apply to a folder that already existed
    return path


def write_secret(path: Path, text: str, replace: bool = True) -> None:
    """Write ``text`` to ``path``, 0600 from creation. Without ``replace``, an existing file is
    kept and :class:`FileExistsError` raised (two processes racing keep one secret).

    The text goes to a new 0600 file beside ``path`` first, so no one ever reads a partial one.
    """
    ensure_var_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists: the first writer wins
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def secret(path: Path) -> str:
    """The secret kept in ``path``, generated once (64 hex digits) when missing."""
    with contextlib.suppress(FileExistsError):
        write_secret(path, secrets.token_hex(32) + "\n", replace=False)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a file from before Loa kept its secrets private
    return path.read_text(encoding="utf-8").strip()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "secret":
        print("usage: python -m gateway.var secret PATH", file=sys.stderr)
        return 2
    print(secret(Path(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
