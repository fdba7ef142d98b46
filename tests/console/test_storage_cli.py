"""``harmony storage …`` end to end: a real process on the test schema, real directories."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

from engine.harmonydb import DB
from support.cli import harmony_argv


def harmony(db: DB, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        harmony_argv(db, *args),
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("harmony: error: ") and message in lines[0], lines[0]


def test_attach_list_and_detach(db: DB, tmp_path: Path) -> None:
    seal = tmp_path / "seal"
    store = tmp_path / "store"
    seal.mkdir()
    store.mkdir()
    out = ok(harmony(db, "storage", "attach", str(seal), "--seal", "--weight", "20"))
    storage_id = json.loads((seal / "sectorstore.json").read_text())["ID"]
    assert out.startswith(f"attached {storage_id} at {seal} on {socket.gethostname()}")
    assert "(new sectorstore.json)" in out and "capacity " in out
    ok(
        harmony(
            db,
            "storage",
            "attach",
            str(store),
            "--store",
            "--max-storage",
            "1GiB",
            "--groups",
            "archive,cold",
            "--allow-to",
            "tape",
            "--deny-types",
            "unsealed",
        )
    )

    text = ok(harmony(db, "storage", "list"))
    blocks = {b.split(":\n")[0]: b for b in text.strip().split("\n\n")}
    seal_block = blocks[storage_id].splitlines()
    assert re.fullmatch(r"\t\[#*\*? *\] \S+ \S+/\S+ \S+ \d+%", seal_block[1]), seal_block[1]
    assert len(seal_block[1].split("]")[0]) == 1 + 1 + 50  # tab, '[', 50 columns
    assert seal_block[2] == (
        "\tUnsealed: 0; Sealed: 0; Caches: 0; Updated: 0; Update-caches: 0; Reserved: 0 B"
    )
    assert seal_block[3] == "\tWeight: 20; Use: Seal"
    assert seal_block[4].startswith("\tHealth: OK (")
    assert f"\tLocal: {seal}" in seal_block
    assert f"\tURL: file://{socket.gethostname()}{seal} (OK (" in text

    store_id = json.loads((store / "sectorstore.json").read_text())["ID"]
    store_block = blocks[store_id].splitlines()
    assert store_block[1].endswith("% (filesystem)")
    assert re.fullmatch(r"\t\[ {50}\] 0 B/1 GiB 0% \(limit\)", store_block[2]), store_block[2]
    assert "\tWeight: 10; Use: Store" in store_block
    assert "\tGroups: archive, cold" in store_block
    assert "\tAllowTo: tape" in store_block
    assert "\tDeny Types:  unsealed" in store_block

    listed = json.loads(ok(harmony(db, "storage", "list", "--json")))
    by_id = {p["storage_id"]: p for p in listed}
    assert by_id[store_id]["groups"] == ["archive", "cold"]
    assert by_id[store_id]["max_storage"] == 1 << 30
    assert by_id[store_id]["use"] == "Store" and by_id[storage_id]["use"] == "Seal"
    assert by_id[storage_id]["healthy"] is True
    assert by_id[storage_id]["counts"]["sealed"] == 0

    out = ok(harmony(db, "storage", "detach", str(seal)))
    assert f"detached {storage_id}" in out and "removed from the cluster" in out
    assert [p["storage_id"] for p in json.loads(ok(harmony(db, "storage", "list", "--json")))] == [
        store_id
    ]


def test_redeclare_reports_truncated_files_and_exits_non_zero(db: DB, tmp_path: Path) -> None:
    ok(harmony(db, "storage", "attach", str(tmp_path), "--store"))
    (tmp_path / "sealed" / "s-t01000-1").write_bytes(b"\0" * 2048)
    (tmp_path / "sealed" / "s-t01000-2").write_bytes(b"\0" * 2000)
    result = harmony(db, "storage", "redeclare", "--drop-missing", "--sector-size", "2KiB")
    assert result.returncode == 1
    assert "declared 1, dropped 0" in result.stdout
    assert "problem: " in result.stdout and "s-t01000-2: 2000 bytes, expected 2048" in result.stdout
    text = ok(harmony(db, "storage", "list"))
    assert "Unsealed: 0; Sealed: 1; Caches: 0" in text


def test_redeclare_says_how_many_declared_files_are_gone(db: DB, tmp_path: Path) -> None:
    ok(harmony(db, "storage", "attach", str(tmp_path), "--store"))
    sealed = tmp_path / "sealed" / "s-t01000-1"
    sealed.write_bytes(b"\0" * 2048)
    assert "declared 1\n" in ok(harmony(db, "storage", "redeclare", "--sector-size", "2KiB"))
    sealed.unlink()
    out = ok(harmony(db, "storage", "redeclare", "--sector-size", "2KiB"))
    assert "declared 0; 1 declared file(s) gone from disk, kept declared and marked" in out


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["attach", "{tmp}/missing"], "does not exist"),
        ("file", ["attach", "{tmp}/file"], "is not a directory"),
        ("corrupt", ["attach", "{tmp}"], "corrupt {tmp}/sectorstore.json: not valid JSON"),
        (None, ["detach", "{tmp}"], "no storage path is attached"),
        (None, ["attach", "{tmp}", "--allow-types", "sealed,bogus"], "unknown sector file type"),
        (None, ["redeclare"], "no storage paths attached on this host"),
    ],
)
def test_bad_input_is_a_one_line_error(
    db: DB, tmp_path: Path, setup: str | None, args: list[str], message: str
) -> None:
    if setup == "file":
        (tmp_path / "file").write_text("x")
    if setup == "corrupt":
        (tmp_path / "sectorstore.json").write_text("{nope")
    result = harmony(db, "storage", *[a.format(tmp=tmp_path) for a in args])
    one_line_error(result, message.format(tmp=tmp_path))
    assert json.loads(ok(harmony(db, "storage", "list", "--json"))) == []


def test_overlapping_paths_are_a_one_line_error(db: DB, tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    ok(harmony(db, "storage", "attach", str(tmp_path)))
    one_line_error(
        harmony(db, "storage", "attach", str(tmp_path / "inner")), "is inside storage path"
    )


def test_every_storage_command_explains_itself(db: DB) -> None:
    for action in ("attach", "detach", "list", "redeclare"):
        out = ok(harmony(db, "storage", action, "--help"))
        assert len(out.splitlines()) > 5
    assert "--max-storage SIZE" in ok(harmony(db, "storage", "attach", "--help"))
    bad_size = harmony(db, "storage", "attach", "/tmp", "--max-storage", "lots")
    assert bad_size.returncode == 2 and "cannot parse size 'lots'" in bad_size.stderr
