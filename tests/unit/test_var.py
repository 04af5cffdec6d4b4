"""var/ and its secrets: the folder 0700, each secret 0600 from creation, kept once made."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import var


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that narrows nothing, so any private mode comes from Loa's own code."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_var_dir_is_0700_new_or_existing(tmp_path: Path, open_umask: None) -> None:
    """A new var/ is 0700, and an existing 0755 one is narrowed to 0700."""
    assert mode(var.ensure_var_dir(tmp_path / "new" / "var")) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    assert mode(var.ensure_var_dir(old)) == 0o700


def test_write_secret_is_0600_and_leaves_no_temporary_file(
    tmp_path: Path, open_umask: None
) -> None:
    """A secret is 0600 in a 0700 folder, replaced whole, with nothing else left beside it."""
    path = tmp_path / "var" / "creds.txt"
    var.write_secret(path, "one\n")
    var.write_secret(path, "two\n")
    assert path.read_text() == "two\n"
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    assert [p.name for p in path.parent.iterdir()] == ["creds.txt"]


def test_write_secret_without_replace_keeps_the_first(tmp_path: Path) -> None:
    """Two processes racing to create a secret keep the first one's."""
    path = tmp_path / "key"
    var.write_secret(path, "first", replace=False)
    with pytest.raises(FileExistsError):
        var.write_secret(path, "second", replace=False)
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_secret_is_generated_once_and_narrowed(tmp_path: Path, open_umask: None) -> None:
    """The secret is 64 hex digits, the same every time; a readable old file becomes 0600."""
    path = tmp_path / "var" / "redis.pass"
    first = var.secret(path)
    assert len(first) == 64 and int(first, 16) >= 0
    assert var.secret(path) == first and mode(path) == 0o600
    path.chmod(0o644)
    assert var.secret(path) == first and mode(path) == 0o600


def test_the_command_prints_the_secret_it_keeps(tmp_path: Path) -> None:
    """`python -m gateway.var secret PATH` (run.sh's Redis password) prints the kept secret."""
    path = tmp_path / "var" / "redis.pass"
    cmd = [sys.executable, "-m", "gateway.var", "secret", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    assert out == path.read_text().strip() and len(out) == 64
    assert subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip() == out
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
