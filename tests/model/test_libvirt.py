"""A VM from a libvirt domain XML (model/libvirt.py), proven against libvirt itself: for
each realistic domain in tests/data/libvirt (`virsh dumpxml` output of domains defined in
Debian's libvirt 9), `virsh domxml-to-native qemu-argv` run on Debian's libvirt, with no
daemon (the embedded driver), gives the QEMU command line libvirt would start; parsing that
must give the same VM as our mapping (tests/vm_compare.py).

`domxml-to-native` rebuilds each <interface> as a generic one and gives it a fresh PCI
address, so the XMLs hold their NICs where libvirt's allocator puts them (bridge-i440fx's
sits on the root bus for that reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cli_run import run
from migcompat.catalog.load import open_catalog
from migcompat.cli.options import VMArgs
from migcompat.cli.vm_inputs import config_for, read_args
from migcompat.errors import UsageError
from migcompat.model.cmdline import parse_command_line
from migcompat.model.libvirt import domain_args
from vm_compare import differences

DATA = Path(__file__).parent.parent / "data" / "libvirt"
XMLS = sorted(DATA.glob("*.xml"))
RELEASE = open_catalog("qemu").release("7.2")


@pytest.fixture(scope="module")
def virsh(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """virsh on an embedded QEMU driver rooted in a temporary directory."""
    if shutil.which("virsh") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("virsh is not installed (CI=true: tools/install-deps.sh installs it)")
        pytest.skip("virsh is not installed (libvirt-clients, libvirt-daemon-driver-qemu)")
    root = tmp_path_factory.mktemp("libvirt")
    # Probe QEMU as root: as the default user the capabilities cache is never valid here
    # (no /dev/kvm access), and every call would probe QEMU again (a minute each).
    (root / "etc").mkdir()
    (root / "etc" / "qemu.conf").write_text('user = "root"\ngroup = "root"\n')
    return ["virsh", "-q", "-c", f"qemu:///embed?root={root}"]


def libvirt_args(virsh: list[str], xml: Path) -> list[str]:
    out = subprocess.run([*virsh, "domxml-to-native", "qemu-argv", str(xml)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return read_args(out.stdout)


def config(args: list[str]):  # type: ignore[no-untyped-def]
    return config_for(RELEASE, None, VMArgs(), parse_command_line(args))


def test_the_data_holds_ten_realistic_domains() -> None:
    assert len(XMLS) >= 10
    kinds = {x.name: x.read_text() for x in XMLS}
    assert any("pc-q35-5.2" in t for t in kinds.values())  # an old machine type
    assert any("pcie-to-pci-bridge" in t for t in kinds.values())
    assert any("pci-bridge" in t and "i440fx" in t for t in kinds.values())


@pytest.mark.parametrize("xml", XMLS, ids=[x.stem for x in XMLS])
def test_the_mapping_gives_the_vm_libvirt_starts(virsh: list[str], xml: Path) -> None:
    theirs = libvirt_args(virsh, xml)
    ours = domain_args(xml.read_bytes(), str(xml))
    assert differences(config(ours), config(theirs)) == []


def test_the_comparison_sees_a_moved_device(virsh: list[str]) -> None:
    # The proof is only as good as the comparison: a device on another slot is a difference.
    xml = DATA / "web-q35.xml"
    ours = domain_args(xml.read_bytes(), str(xml))
    moved = [a.replace("addr=0x1", "addr=0x9") if a.startswith("VGA") else a for a in ours]
    diff = differences(config(moved), config(libvirt_args(virsh, xml)))
    assert any("VGA" in d for d in diff)


def test_check_takes_the_xml_and_gives_the_pins(capsys: pytest.CaptureFixture[str]) -> None:
    # sata-q35 holds the ISA pvpanic and an nec-xhci: 7.2 -> 10.0 needs two pins.
    res = run(capsys, "check", "--catalog", "qemu", "7.2", "10.0", "--libvirt-xml",
              DATA / "sata-q35.xml", "--format", "json")
    assert res.code == 1, res.err
    doc = res.json()
    fix = [f for f in doc["fixes"] if f["kind"] == "global"]
    assert fix and fix[0]["verified"]
    assert set(fix[0]["args"]) >= {"-global", "nec-usb-xhci.streams=off", "pvpanic.events=3"}


HOSTILE = [
    ("<!DOCTYPE d [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]><domain>&b;</domain>",
     "refused"),
    ('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain>&x;</domain>', "refused"),
    ("<domain><os>", "not well-formed"),
    ("<network/>", "not a libvirt domain XML"),
    ("<domain type='qemu'><memory>1</memory></domain>", "no <os><type machine"),
]


@pytest.mark.parametrize(("text", "said"), HOSTILE)
def test_bad_xml_is_one_line_naming_the_file(text: str, said: str) -> None:
    with pytest.raises(UsageError, match=said) as err:
        domain_args(text, "vm.xml")
    assert str(err.value).startswith("vm.xml: ") and "\n" not in str(err.value)


def _domain(devices: str) -> str:
    return ("<domain type='qemu'><memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type "
            f"arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>{devices}"
            "</devices></domain>")


def test_a_device_without_an_address_asks_for_dumpxml() -> None:
    with pytest.raises(UsageError, match="virsh dumpxml"):
        domain_args(_domain("<memballoon model='virtio'/>"), "vm.xml")


def test_an_element_not_mapped_is_named() -> None:
    with pytest.raises(UsageError, match="<hostdev> is not mapped"):
        domain_args(_domain("<hostdev mode='subsystem' type='pci'/>"), "vm.xml")


def test_host_only_elements_are_skipped() -> None:
    args = domain_args(_domain("<graphics type='vnc'/><audio id='1' type='none'/>"), "vm.xml")
    assert "-device" not in args and args[:2] == ["-machine", "pc-q35-7.2,usb=off,"
                                                 "dump-guest-core=off,memory-backend=pc.ram"]


def test_cli_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run(capsys, "check", "--catalog", "qemu", "7.2", "10.0", "--libvirt-xml",
              tmp_path / "none.xml")
    assert res.code == 2 and "none.xml" in res.err
    res = run(capsys, "check", "--catalog", "qemu", "7.2", "10.0", "--libvirt-xml",
              DATA / "web-q35.xml", "--qemu-args", "-M q35")
    assert res.code == 2 and "give one of --qemu-args, --libvirt-xml" in res.err
