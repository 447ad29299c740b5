"""One VM held three ways, as operators hold it: the libvirt domain XML, the command line of
the QEMU it runs (read from /proc/PID/cmdline of a running system QEMU), and that QEMU's QMP
socket. All three must be the same VM (tests/vm_compare.py) with the same verdict.

The QEMU is started with the command line Debian's libvirt gives for the XML (virsh
domxml-to-native on the embedded driver), its host-side pieces swapped for ones this
machine has: a user-mode netdev for libvirt's tap file descriptor, image files in a
temporary directory, no master-key secret."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_run import run
from migcompat.catalog.load import open_catalog
from migcompat.cli.options import VMArgs
from migcompat.cli.vm_inputs import config_for, line_from
from migcompat.model.vm import VMConfig
from qemu_helpers import require_qemu
from vm_compare import differences

pytestmark = pytest.mark.qemu
XML = Path(__file__).parent.parent / "data" / "libvirt" / "multiport-q35.xml"


def _virsh(root: Path) -> list[str]:
    if shutil.which("virsh") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("virsh is not installed (CI=true: tools/install-deps.sh installs it)")
        pytest.skip("virsh is not installed")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "qemu.conf").write_text('user = "root"\ngroup = "root"\n')
    return ["virsh", "-q", "-c", f"qemu:///embed?root={root}"]


def _startable(args: list[str], tmp: Path) -> tuple[list[str], Path]:
    """libvirt's arguments with the host's pieces replaced; and its monitor socket."""
    out: list[str] = []
    monitor = tmp / "m.sock"
    i = 0
    while i < len(args):
        opt, arg = args[i], args[i + 1] if i + 1 < len(args) else ""
        if opt == "-object" and '"secret"' in arg:
            i += 2
            continue
        if opt == "-netdev":
            arg = f"user,id={json.loads(arg)['id']}"
        elif opt == "-chardev" and arg.startswith("socket,id=charmonitor"):
            arg = f"socket,id=charmonitor,path={monitor},server=on,wait=off"
        elif opt == "-blockdev" and '"filename"' in arg:
            doc = json.loads(arg)
            doc["filename"] = str(tmp / Path(doc["filename"]).name)
            arg = json.dumps(doc)
        if opt.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            out += [opt, arg]
            i += 2
        else:
            out.append(opt)
            i += 1
    return out, monitor


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A running system QEMU started as libvirt would start the XML: (pid, QMP address)."""
    binary = require_qemu()
    tmp = Path(str(tmp_path_factory.mktemp("vm"))[:60])  # a unix socket path is short
    virsh = _virsh(tmp_path_factory.mktemp("libvirt"))
    text = subprocess.run([*virsh, "domxml-to-native", "qemu-argv", str(XML)],
                          capture_output=True, text=True, timeout=300, check=True).stdout
    from migcompat.cli.vm_inputs import read_args
    args, monitor = _startable(read_args(text), tmp)
    for name in re.findall(r"/var/lib/libvirt/images/([\w.]+)", XML.read_text()):
        (tmp / name).write_bytes(b"\0" * (1 << 20))
    proc = subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not monitor.exists():
            if proc.poll() is not None:
                pytest.fail(f"QEMU exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            assert time.monotonic() < deadline, "QEMU did not open its monitor"
            time.sleep(0.05)
        time.sleep(0.2)  # the socket file appears at bind(), a moment before listen()
        yield proc.pid, f"unix:{monitor}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _config(kind: str, text: str) -> VMConfig:
    release = open_catalog("qemu").release("7.2")
    return config_for(release, None, VMArgs(), line_from(kind, text, "qemu"))


def test_the_running_vm_is_big_enough_to_mean_something(vm: tuple[int, str]) -> None:
    args = Path(f"/proc/{vm[0]}/cmdline").read_bytes().split(b"\0")
    devices = [a for a in args if a == b"-device"]
    assert len(devices) >= 8 and b"-smp" in args and b"-blockdev" in args
    assert any(b"cores=4" in a for a in args) and any(b'"bus":"pci.10"' in a for a in args)


def test_three_inputs_give_one_vm(vm: tuple[int, str]) -> None:
    pid, address = vm
    from_cmdline = _config("qemu-args", f"/proc/{pid}/cmdline")
    from_xml = _config("libvirt-xml", str(XML))
    from_qmp = _config("qmp", address)
    assert differences(from_xml, from_cmdline) == []
    diff = differences(from_qmp, from_cmdline)
    assert diff == [], "\n".join(diff)


def test_three_inputs_give_one_verdict(capsys: pytest.CaptureFixture[str],
                                       vm: tuple[int, str]) -> None:
    pid, address = vm
    verdicts = []
    for flag, value in (("--qemu-args", f"/proc/{pid}/cmdline"), ("--libvirt-xml", XML),
                        ("--qmp", address)):
        res = run(capsys, "check", "--catalog", "qemu", "7.2", "10.0", flag, value,
                  "--format", "json")
        assert res.code in (0, 1), res.err
        doc = res.json()
        verdicts.append((doc["verdict"], doc["loads"],
                         sorted(r["code"] for r in doc["reasons"])))
    assert verdicts[0] == verdicts[1] == verdicts[2], verdicts
