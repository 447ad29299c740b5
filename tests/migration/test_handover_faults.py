"""The fault campaign: a proxy between source and destination cuts, resets or stalls the
connection at an offset of the whole conversation (the stream and the handover's frames,
both directions), in 240 cases. In every one, exactly one side owns the VM, or both say
``unknown`` and ``settle`` decides; a source that failed can always retry."""

from __future__ import annotations

import collections
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.errors import MigcompatError
from migcompat.migration.control import Frame
from migcompat.migration.journal import decide, find_records, settle
from migcompat.migration.session import Handover, load_file, migrate, serve_incoming
from migcompat.migration.transport import Listener
from migcompat.migration.uri import parse_uri
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.vm.live import LiveVM, build, build_empty
from migcompat.vm.savevm import Saver, live_digest

CAT = open_catalog("tutorial")
CONFIG = VMConfig(CAT.release("qemu-5.2"), "pc-5.2", [parse_device("virtio-blk-pci,id=vb0")],
                  smp=2, mem=4 << 20)
TIMEOUT = 0.5  # the handover's wait for a word; stalls end there
CASES = 240

def frame_ends(stream: int, migration: str, digest: str) -> list[int]:
    """Where the stream and each frame of a clean handover end, in conversation bytes."""
    frames = [Frame("loaded", migration, digest=digest), Frame("commit", migration),
              Frame("ack", migration), Frame("bye", migration)]
    ends = [stream]
    for f in frames:
        ends.append(ends[-1] + len(f.encode()))
    return ends


class Proxy:
    """Forwards a unix socket to the destination and, after ``budget`` bytes of the whole
    conversation (both directions), cuts (FIN), resets (RST) or stalls both connections."""

    def __init__(self, path: Path, upstream: str, budget: int, action: str) -> None:
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(1)
        self.upstream, self.budget, self.action = upstream, budget, action
        self.moved = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            down, _ = self.server.accept()
        except OSError:
            return
        up = socket.socket(socket.AF_UNIX)
        up.connect(self.upstream)
        pumps = [threading.Thread(target=self._pump, args=(a, b, down, up), daemon=True)
                 for a, b in ((down, up), (up, down))]
        for p in pumps:
            p.start()
        self.done.wait()
        if self.action == "reset":
            for s in (down, up):  # SO_LINGER 0: close sends a RST and drops unsent bytes
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self.action == "stall":
            self.done.wait(4 * TIMEOUT)  # both sides give up on their own
        for s in (down, up):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _pump(self, src: socket.socket, dst: socket.socket, *_: socket.socket) -> None:
        while not self.done.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)  # pass a clean end of stream on
                break
            with self.lock:
                room = max(0, self.budget - self.moved)
                part = data[:room]
                self.moved += len(part)
            with contextlib.suppress(OSError):
                dst.sendall(part)
            if len(part) < len(data):
                self.done.set()
                break

    def close(self) -> None:
        self.done.set()
        self.server.close()


@dataclass
class Case:
    budget: int
    action: str
    source: str = ""
    destination: str = ""
    settled: str | None = None


def _serve(target: LiveVM, listener: Listener, journal: Path, box: dict[str, Any]) -> None:
    try:
        result = serve_incoming(target, listener, 10, journal, TIMEOUT)
        box["outcome"], box["result"] = result.outcome, result
    except MigcompatError as exc:  # the stream did not load: failed, it runs nothing
        box["outcome"], box["error"] = "failed", exc


def run_case(tmp: Path, src: LiveVM, target: LiveVM, case: Case, n: int) -> tuple[Any, Any]:
    journals = tmp / f"src{n}", tmp / f"dst{n}"
    listener = Listener(parse_uri(f"unix:{tmp / f'd{n}.sock'}"))
    box: dict[str, Any] = {}
    dest = threading.Thread(target=_serve, args=(target, listener, journals[1], box))
    dest.start()
    proxy = Proxy(tmp / f"p{n}.sock", str(listener.uri.path), case.budget, case.action)
    try:
        res = migrate(src, parse_uri(f"unix:{tmp / f'p{n}.sock'}"), 2.0,
                      Handover(f"m{n:04d}", journals[0], TIMEOUT))
    finally:
        dest.join(30)
        proxy.close()
        listener.close()
    assert not dest.is_alive()
    case.source, case.destination = res.outcome, box["outcome"]
    return res, box


def _cases(stream: int, digest: str) -> list[Case]:
    rng = random.Random(20261202)
    # The conversation: the stream, then loaded, commit, ack and bye.
    marks = frame_ends(stream, "m0000", digest)
    span = marks[1] - marks[0]
    cases = []
    for i in range(CASES):
        if i % 3 == 0:
            budget = rng.randrange(0, stream)  # anywhere in the stream
        else:  # near the end of the stream and around each frame, where the doubt is
            budget = max(0, rng.choice(marks) + rng.randrange(-span, span))
        cases.append(Case(budget, ("cut", "reset", "stall")[i % 3 if i % 9 else 2]))
    cases.append(Case(10 * stream, "cut"))  # no fault at all
    return cases


OWNERS = {("migrated", "migrated"): "destination", ("failed", "failed"): "source",
          ("failed", "unknown"): "source", ("unknown", "migrated"): "destination",
          ("unknown", "unknown"): None}


def test_no_cut_loses_or_doubles_the_vm(tmp_path: Path) -> None:
    src = build(CONFIG, seed=11, ram_data=4 << 20)
    target = build_empty(CONFIG)
    digest = live_digest(src)
    stream = sum(len(c) for c in Saver(src, "m0000"))
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for n, case in enumerate(_cases(stream, digest)):
        res, box = run_case(tmp_path, src, target, case, n)
        pair = (case.source, case.destination)
        counts[pair] += 1
        assert pair in OWNERS, (case, res.error, box.get("error"))
        journals = [tmp_path / f"src{n}", tmp_path / f"dst{n}"]
        if "unknown" in pair:
            decision, _ = settle(res.migration, journals)
            assert decision.outcome is not None, (case, decision)
            case.settled = decision.outcome
            owner = OWNERS[pair]
            if owner is not None:  # settle agrees with the side that knew
                assert decision.outcome == ("migrated" if owner == "destination" else
                                            "failed"), case
            if decision.vm is not None:  # the held copy that is now the VM loads whole
                assert load_file(build_empty(CONFIG), decision.vm).digest == digest
            left = sorted(p.name for j in journals if j.exists() for p in j.iterdir())
            assert left == ([Path(decision.vm).name] if decision.vm else []), (case, left)
        if case.destination == "migrated":
            assert box["result"].load.digest == digest
    summary = ", ".join(f"{a}/{b}: {c}" for (a, b), c in sorted(counts.items()))
    print(f"\nfault campaign, {sum(counts.values())} cases: {summary}")
    # The campaign reached every kind of ending, the doubtful ones included.
    assert set(counts) == set(OWNERS), summary
    # A source that failed keeps its VM and can always migrate it again.
    retry = Case(10 * stream, "cut")
    res, box = run_case(tmp_path, src, target, retry, CASES + 1)
    assert (retry.source, retry.destination) == ("migrated", "migrated")


def test_settle_rule_on_each_pair_of_records(tmp_path: Path) -> None:
    from migcompat.migration.journal import Record

    def rec(role: str, outcome: str, held: str | None = None) -> Record:
        return Record("m", role, outcome, "x", held=held)  # type: ignore[arg-type]

    assert decide(rec("source", "failed"), rec("destination", "unknown", "d.mig")).outcome \
        == "failed"
    both = decide(rec("source", "unknown", "s.mig"), rec("destination", "unknown", "d.mig"))
    assert (both.outcome, both.vm, both.discard) == ("migrated", "d.mig", ["s.mig"])
    ran = decide(rec("source", "unknown", "s.mig"), rec("destination", "migrated"))
    assert (ran.outcome, ran.vm, ran.discard) == ("migrated", None, ["s.mig"])
    refused = decide(rec("source", "unknown", "s.mig"), rec("destination", "failed"))
    assert (refused.outcome, refused.vm) == ("failed", "s.mig")
    assert decide(rec("source", "unknown", "s.mig"), None).outcome is None
    assert decide(None, rec("destination", "unknown", "d.mig")).outcome is None
    assert find_records("m", [tmp_path]) == {}


@pytest.mark.parametrize("action", ["cut", "reset"])
def test_settle_on_the_command_line_resolves_both_in_doubt(
        tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    from cli_run import run

    src = build(CONFIG, seed=3, ram_data=4 << 20)
    stream = sum(len(c) for c in Saver(src, "m0000"))
    # Cut inside the commit: the source sent it, the destination did not get it whole.
    ends = frame_ends(stream, "m0000", live_digest(src))
    case = Case(ends[2] - 3, action)
    res, _ = run_case(tmp_path, src, build_empty(CONFIG), case, 0)
    assert (case.source, case.destination) == ("unknown", "unknown")
    journals = [str(tmp_path / "src0"), str(tmp_path / "dst0")]
    shown = run(capsys, "settle", res.migration, *journals, "--format", "json")
    assert shown.code == 0, shown.err
    doc = shown.json()
    assert doc["outcome"] == "migrated" and doc["vm"].endswith(".destination.mig")
    again = run(capsys, "settle", res.migration, *journals)
    assert again.code == 2 and "no journal record" in again.err


def test_run_and_migrate_exit_4_when_in_doubt_and_name_the_migration(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    vm = ["qemu-5.2", "pc-5.2", "--device", "virtio-blk-pci,id=vb0", "--smp", "2", "-m", "4M",
          "--handover-timeout", str(TIMEOUT), "--format", "json"]
    src = build(CONFIG, seed=3, ram_data=4 << 20)
    ends = frame_ends(sum(len(c) for c in Saver(src, "x" * 32)), "x" * 32, live_digest(src))
    dest_sock, proxy_sock = tmp_path / "d.sock", tmp_path / "p.sock"
    run = subprocess.Popen([sys.executable, "-m", "migcompat", "run", *vm, "--incoming",
                            f"unix:{dest_sock}", "--journal", str(tmp_path / "dj")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None and run.stdout.readline().strip() == f"unix:{dest_sock}"
    proxy = Proxy(proxy_sock, str(dest_sock), ends[2] - 3, "reset")  # inside the commit
    try:
        mig = subprocess.run([sys.executable, "-m", "migcompat", "migrate", *vm, "--seed", "3",
                              "--ram-data", "4M", "--to", f"unix:{proxy_sock}", "--journal",
                              str(tmp_path / "sj")], capture_output=True, text=True,
                             timeout=60)
        out, err = run.communicate(timeout=60)
    finally:
        proxy.close()
        if run.poll() is None:
            run.kill()
    sent, got = json.loads(mig.stdout), json.loads(out)
    assert (mig.returncode, run.returncode) == (4, 4), (mig.stderr, err)
    assert sent["outcome"] == got["outcome"] == "unknown"
    assert sent["migration"] == got["migration"] and sent["record"] and got["record"]
    assert f"migcompat settle {sent['migration']}" in mig.stderr
    assert Path(got["record"]).parent == tmp_path / "dj"
