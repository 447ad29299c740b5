"""``check``'s text output as an operator reads it: the verdict and counts on the first
line, the breaking findings and the fix after it, notes counted unless ``--verbose``; one
line per finding when piped, a hanging indent in a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from cli_run import run

FIVE = ["--device", "pvpanic", "--device", "nec-usb-xhci", "--device", "virtio-rng-pci",
        "--device", "e1000", "--device", "virtio-blk-pci"]
CASE = ["check", "--catalog", "qemu", "7.2:pc-q35-7.2", "10.0", *FIVE]


def test_five_devices_fit_in_a_screen_with_the_answer_first(
        capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, *CASE)
    lines = got.out.splitlines()
    assert got.code == 1 and len(lines) <= 15, got.out
    assert lines[0].startswith("7.2:pc-q35-7.2 -> 10.0:pc-q35-7.2: INCOMPATIBLE (")
    assert "2 breaking, 0 guest-visible, " in lines[0]
    assert [ln.split(":")[0] for ln in lines[1:3]] == ["  x property-differs"] * 2
    assert lines[1].startswith("  x property-differs: pvpanic#1.events is 3")
    notes = next(ln for ln in lines if ln.startswith("  notes: "))
    assert "property-one-side" in notes and "--verbose" in notes
    assert lines[-1].startswith("  fix (verified): destination: -global pvpanic.events=3 "
                                "-global nec-usb-xhci.streams=off -> compatible")


def test_verbose_lists_every_note(capsys: pytest.CaptureFixture[str]) -> None:
    short = run(capsys, *CASE).out
    full = run(capsys, *CASE, "--verbose").out
    counted = int(short.splitlines()[0].split(" notes)")[0].rsplit(" ", 1)[1])
    listed = [ln for ln in full.splitlines() if ln.startswith("  - ")]
    assert len(listed) == counted > 15
    assert "device state: " in full and "device state: " not in short


def test_the_verdict_says_what_was_not_compared(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "--catalog", "qemu", "7.2:pc-q35-7.2", "10.0", "--device",
              "pvpanic", "--dst-global", "pvpanic.events=3")
    assert got.out.splitlines()[0].startswith(
        "7.2:pc-q35-7.2 -> 10.0:pc-q35-7.2: compatible (pvpanic#1 state not compared; 0 ")


def test_piped_output_keeps_each_finding_on_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "migcompat", *CASE, "--verbose"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "60"})
    long = [ln for ln in proc.stdout.splitlines() if len(ln) > 160]
    assert long, proc.stdout  # the rombar note is longer than any terminal
    assert all(ln.startswith(("  ", "7.2:")) for ln in proc.stdout.splitlines())


def test_a_terminal_wraps_a_finding_with_a_hanging_indent() -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: migcompat on a terminal 80 columns wide
        os.environ.update(COLUMNS="80", TERM="dumb")
        os.execv(sys.executable, [sys.executable, "-m", "migcompat", *CASE])
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    lines = b"".join(chunks).decode().replace("\r\n", "\n").splitlines()
    assert max(len(ln) for ln in lines) <= 80, lines
    finding = lines.index(next(ln for ln in lines if ln.startswith("  x property-differs")))
    assert lines[finding + 1].startswith("      ") and lines[finding + 1].strip(), lines
