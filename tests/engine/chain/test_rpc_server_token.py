"""The serve token: created once, 0600, reused; refused when others could read it; never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.chain.rpc_token import (
    TOKEN_ENV,
    TOKEN_FILE,
    TokenError,
    load_or_create_token,
    token_from_env,
)


def test_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / TOKEN_FILE
    token, created = load_or_create_token(path)
    assert created and len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = load_or_create_token(path)
    assert (again, created_again) == (token, False)
    other, _ = load_or_create_token(tmp_path / "elsewhere" / TOKEN_FILE)
    assert other != token


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    token, _ = load_or_create_token(path)
    path.chmod(0o644)
    with pytest.raises(TokenError, match=r"mode 0644.*chmod 600") as caught:
        load_or_create_token(path)
    assert token not in str(caught.value)


def test_a_file_with_a_weak_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("hunter2\n")
    path.chmod(0o600)
    with pytest.raises(TokenError, match="at least 16") as caught:
        load_or_create_token(path)
    assert "hunter2" not in str(caught.value)


def test_the_environment_token() -> None:
    assert token_from_env({}) is None
    assert token_from_env({TOKEN_ENV: ""}) is None
    good = "0123456789abcdef-environment"
    assert token_from_env({TOKEN_ENV: f" {good}\n"}) == good
    for bad in ("short-token", "has a space in the middle!!", "colon:breaks-api-info-parsing"):
        with pytest.raises(TokenError) as caught:
            token_from_env({TOKEN_ENV: bad})
        assert bad not in str(caught.value)
