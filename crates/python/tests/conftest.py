"""Shared fixtures: the Rust side's known answers (the `known_answers` example)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def rust():
    """What the Rust crates give for the inputs the tests use (JSON from
    `cargo run -p lockstep-python --example known_answers`, or the file named by
    LOCKSTEP_KNOWN_ANSWERS, which `cargo xtask test` writes)."""
    path = os.environ.get("LOCKSTEP_KNOWN_ANSWERS")
    if path:
        return json.loads(Path(path).read_text())
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "lockstep-python", "--example", "known_answers"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)
