"""`harmony completion bash|zsh`: generated from the argparse tree, loaded by a real shell, and
answering what the tree holds (commands, aliases, options, choices, files)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from console.cli import build_parser
from console.commands.completion import completion_script

CASES = [
    ("harmony conf", "config"),
    ("harmony config ", "list ls get cat show set rm remove delete edit effective interpret"),
    ("harmony --db x config effective --la", "--layers"),
    ("harmony --log-format ", "text json"),
    ("harmony completion ", "bash zsh"),
    ("harmony run --engine-only --tas", "--tasks"),
    ("harmony --vers", "--version"),
]


def complete_in(shell: list[str], script: Path, line: str) -> str:
    words = line.split(" ")
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _harmony\n"
        'echo "${COMPREPLY[*]}"\n'
    )
    done = subprocess.run([*shell, "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    parser = build_parser(whole=True)
    where = tmp_path_factory.mktemp("completion")
    made = {}
    for shell in ("bash", "zsh"):
        made[shell] = where / f"harmony.{shell}"
        made[shell].write_text(completion_script(parser, shell))
    return made


def test_bash_loads_it_and_completes_the_tree(scripts: dict[str, Path], tmp_path: Path) -> None:
    loaded = subprocess.run(
        ["bash", "-c", f"source {scripts['bash']} && complete -p harmony"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "complete -o default -F _harmony harmony"
    for line, expected in CASES:
        assert complete_in(["bash"], scripts["bash"], line) == expected, line
    (tmp_path / "layers.toml").touch()
    got = complete_in(["bash"], scripts["bash"], f"harmony --data-dir {tmp_path}/lay")
    assert got == f"{tmp_path}/layers.toml"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here")
def test_zsh_loads_it(scripts: dict[str, Path]) -> None:
    loaded = subprocess.run(
        ["zsh", "-fc", f"source {scripts['zsh']} && whence -w _harmony"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "_harmony: function" in loaded.stdout
