"""Run the migcompat CLI in-process (its real entry point, exit codes included)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from migcompat.cli.main import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> Run:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    code = info.value.code
    return Run(code if isinstance(code, int) else 0, captured.out, captured.err)
