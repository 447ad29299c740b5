"""probe_state: what real QEMU 7.2 sends, per machine type, grouped into the state file format;
and the bundled ``*.state.json`` files are whole (every schema they name is there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.load import DATA_DIR
from migcompat.qemu.binary.state.capture import (
    FORMAT,
    RELEASES,
    _machine,
    _prefix,
    capture,
    probe_state,
    schema_key,
)
from migcompat.qemu.binary.state.dump import versions_from_dump
from migcompat.qemu.binary.state.run import DEVICES, MEM_MIB, Device, Target
from migcompat.qemu.binary.state.stream import (
    SWITCHOVER_START,
    SavedStream,
    Section,
    read_stream,
)
from migcompat.stream import DONE, Decoder, SectionFull, stream_schemas
from qemu_helpers import VIRTIO_BLK_ARGS, make_stream, require_qemu

STATE_FILES = sorted((DATA_DIR / "qemu").glob("*.state.json"))
# The device probe on a few types (the whole probe of a build takes minutes): one that
# migrates, blockers (one lifted by an option), one that needs what the probe cannot give.
PROBED = ("e1000", "usb-uas", "ivshmem-plain", "rocker", "vfio-pci")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """The state document of the two 7.2 machine types, from the real system QEMU."""
    return probe_state("7.2", Target(require_qemu()), machines="pc-*-7.2",
                       probe_only=PROBED)


@pytest.fixture(scope="module")
def blk_stream(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    require_qemu()
    path = make_stream(tmp_path_factory.mktemp("state"), "pc-q35-7.2", VIRTIO_BLK_ARGS)
    return path.read_bytes()


@pytest.mark.qemu
def test_read_stream_sections_ram_and_vmdesc(blk_stream: bytes) -> None:
    saved = read_stream(blk_stream)
    assert saved.vmdesc and not saved.unmatched and saved.switchover_starts == 0
    assert [s.idstr for s in saved.sections if s.iterative] == ["ram"]
    full = saved.full()
    assert all(s.desc is not None for s in full)
    assert full[0].idstr == "timer" and full[-1].idstr == "globalstate"
    blk = [s for s in full if s.idstr.endswith("/virtio-blk")]
    assert [s.idstr for s in blk] == ["0000:00:01.0/virtio-blk"]
    assert blk[0].desc is not None and blk[0].desc["vmsd_name"] == "virtio-blk"
    assert ("pc.ram", MEM_MIB << 20) in saved.ram
    assert saved.counts()["dma"] == 2


@pytest.mark.qemu
def test_switchover_start_is_taken_out(blk_stream: bytes) -> None:
    # QEMU >= 10.0 sends MIG_CMD 0x0b before the device sections; put one there by hand.
    dec = Decoder(stream_schemas(blk_stream), check_versions=False)
    dec.feed(blk_stream)
    dec.close()
    before = dec.offset
    while not isinstance(ev := dec.next_event(), SectionFull):
        assert ev is not DONE
        before = dec.offset
    patched = blk_stream[:before] + SWITCHOVER_START + blk_stream[before:]
    saved = read_stream(patched)
    assert saved.switchover_starts == 1
    assert saved.sections == read_stream(blk_stream).sections


@pytest.mark.qemu
def test_per_cpu_sections(doc: dict[str, Any]) -> None:
    for machine in ("pc-q35-7.2", "pc-i440fx-7.2"):
        board = doc["machines"][machine]["board"]
        per_cpu = {b["idstr"] for b in board if b["per_cpu"]}
        assert per_cpu == {"cpu", "cpu_common", "apic"}, machine
        # Once each, with the smp-1 instance id; kvm-tpr-opt is only cpu 0's.
        assert [b["instance_id"] for b in board if b["idstr"] == "cpu"] == [0]
        assert any(b["idstr"] == "kvm-tpr-opt" and not b["per_cpu"] for b in board)


@pytest.mark.qemu
def test_board_ram_and_pci_slots(doc: dict[str, Any]) -> None:
    q35, pc = doc["machines"]["pc-q35-7.2"], doc["machines"]["pc-i440fx-7.2"]
    assert q35["pci_first_slot"] == 1  # 00.0 mch; ICH9 functions are at 1f.*
    assert pc["pci_first_slot"] == 2  # 00.0 i440FX, 01.* PIIX3; -nodefaults: no VGA
    assert "0000:00:1f.0/ICH9LPC" in [b["idstr"] for b in q35["board"]]
    assert "0000:00:01.3/piix4_pm" in [b["idstr"] for b in pc["board"]]
    for m in (q35, pc):
        assert [r["idstr"] for r in m["ram"] if r["mem"]] == ["pc.ram"]
        assert "ram" not in [b["idstr"] for b in m["board"]]
    assert doc["skipped"] == {}


@pytest.mark.qemu
def test_devices(doc: dict[str, Any]) -> None:
    q35 = doc["machines"]["pc-q35-7.2"]
    assert q35["skipped_devices"] == {}
    blk = q35["devices"]["virtio-blk-pci"]
    assert [s["suffix"] for s in blk["sections"]] == ["virtio-blk"]
    assert doc["schemas"][blk["sections"][0]["schema"]]["vmsd_name"] == "virtio-blk"
    assert q35["devices"]["e1000"]["ram"] == [{"suffix": "e1000.rom", "size": 256 << 10}]
    assert [s["suffix"] for s in q35["devices"]["virtio-serial-pci"]["sections"]] == \
        ["virtio-console"]


@pytest.mark.qemu
def test_failing_devices_are_left_out() -> None:
    devices = [Device("virtio-rng-pci"), Device("mc-no-such-device"), Device("not-built")]
    cap = capture(Target(require_qemu()), "pc-q35-7.2", {"virtio-rng-pci", "mc-no-such-device"},
                  devices)
    assert cap.failure is None
    assert [[d.type for d in b.used] for b in cap.batches] == [["virtio-rng-pci"]]
    assert cap.skipped_devices["not-built"] == "not in this build"
    reason = cap.skipped_devices["mc-no-such-device"]
    assert "mc-no-such-device" in reason and "\n" not in reason
    assert not reason.startswith(("/", "qemu-system"))
    assert any(s.idstr == "0000:00:01.0/virtio-rng" for s in cap.batches[0].stream.full())


@pytest.mark.qemu
def test_mapped_backends_are_captured_by_name() -> None:
    """A memory backend's RAM block bears the backend's id, which the user chooses: the
    capture records how each device type names it, not the capture's own id."""
    devices = [d for d in DEVICES if d.type in ("acpi-erst", "ivshmem-plain")]
    cap = capture(Target(require_qemu()), "pc-q35-7.2", {"acpi-erst", "ivshmem-plain"},
                  devices)
    names = [name for name, _ in cap.batches[0].stream.ram]
    assert "mcmem0" in names and "0000:00:02.0/mcmem1" in names  # erst alone, ivshmem under
    machine = _machine(cap, {})
    erst, ivshmem = (machine["devices"][t] for t in ("acpi-erst", "ivshmem-plain"))
    assert erst["backend_ram"] == {"memdev": "global"} and "options" not in erst
    assert ivshmem["backend_ram"] == {"memdev": "device"}
    assert ivshmem["options"] == {"master": "on"}
    assert ivshmem["ram"] == []  # its only block is the backend's
    assert erst["ram"] == [{"suffix": "erst.exchange", "size": 8192}]
    assert cap.notes == []


def test_device_options_and_memdev() -> None:
    dev = Device("ivshmem-plain", ("-object", "memory-backend-ram,id=mcmem{n},size=1M"),
                 "master=on,memdev=mcmem{n}")
    assert dev.options() == {"master": "on"} and dev.memdev(3) == "mcmem3"
    assert Device("e1000").options() == {} and Device("e1000").memdev(0) is None


@pytest.mark.qemu
def test_old_machines() -> None:
    target, blk = Target(require_qemu()), [DEVICES[0]]
    # pc-i440fx-2.2 sends no vmdesc by default: captured with suppress-vmdesc=off.
    cap = capture(target, "pc-i440fx-2.2", {"virtio-blk-pci"}, blk)
    assert cap.option == ",suppress-vmdesc=off" and cap.plain is not None
    assert cap.plain.vmdesc and all(s.desc is not None for s in cap.plain.full())
    # pc-i440fx-1.6 leaves the bus out of PCI idstrs; the device is still found.
    cap = capture(target, "pc-i440fx-1.6", {"virtio-blk-pci"}, blk)
    machine = _machine(cap, {})
    assert "0000:01.3/piix4_pm" in [b["idstr"] for b in machine["board"]]
    assert [s["suffix"] for s in machine["devices"]["virtio-blk-pci"]["sections"]] == \
        ["virtio-blk"]
    assert cap.notes == []  # no section or RAM block outside a device


@pytest.mark.qemu
def test_document_shape(doc: dict[str, Any]) -> None:
    assert doc["format"] == FORMAT and doc["release"] == "7.2"
    assert doc["build"].startswith("7.2.")
    assert set(doc["machines"]) == {"pc-q35-7.2", "pc-i440fx-7.2"}
    for key, schema in doc["schemas"].items():
        assert schema_key(schema) == key
        assert "name" not in schema and "instance_id" not in schema
    assert doc["type_vmsd"]["virtio-blk-device"] == "virtio-blk"
    assert doc["versions"]["virtio-blk"]["version_id"] == 2
    assert doc["versions"]["ps2kbd"]["subsections"]["ps2kbd/ledstate"] == \
        {"version_id": 3, "minimum_version_id": 2}
    _check_references(doc)


def test_versions_from_dump_flattens_and_picks() -> None:
    def desc(name: str, v: int, m: int, subs: list[Any] | None = None) -> dict[str, Any]:
        return {"name": name, "version_id": v, "minimum_version_id": m, "Fields": [],
                "Subsections": subs or []}

    dump = {"vmschkmachine": {"Name": "pc-q35-5.1"},
            "a-dev": {"Name": "a-dev", "Description": desc("a", 2, 1, [
                desc("a/s1", 1, 1, [desc("a/s1/s2", 3, 2)])])},
            "ne2k_isa": {"Name": "ne2k_isa", "Description": desc("ne2000", 2, 0)},
            "ne2k_pci": {"Name": "ne2k_pci", "Description": desc("ne2000", 3, 3)},
            "isa-vga": {"Name": "isa-vga", "Description": desc("vga", 2, 2, [
                desc("vga.endian", 1, 1)])},
            "pci-vga": {"Name": "pci-vga", "Description": desc("vga", 2, 2)}}
    conflicts: list[str] = []
    versions, type_vmsd = versions_from_dump(dump, conflicts)
    assert versions["a"] == {"version_id": 2, "minimum_version_id": 1, "subsections": {
        "a/s1": {"version_id": 1, "minimum_version_id": 1},
        "a/s1/s2": {"version_id": 3, "minimum_version_id": 2}}}
    assert versions["ne2000"]["version_id"] == 3
    assert list(versions["vga"]["subsections"]) == ["vga.endian"]  # a tie: the union
    assert len(conflicts) == 2
    assert type_vmsd == {"a-dev": "a", "ne2k_isa": "ne2000", "ne2k_pci": "ne2000",
                         "isa-vga": "vga", "pci-vga": "vga"}


def test_short_root_bus_prefix() -> None:
    # pc-i440fx-1.6 names PCI devices without the bus number.
    def stream(*names: str) -> SavedStream:
        return SavedStream(tuple(Section(n, 0, 1, False, None) for n in names), (), True, ())

    assert _prefix(stream("0000:02.0/virtio-blk"), 2, 0) == "0000:02.0/"
    assert _prefix(stream("0000:00:02.0/virtio-blk"), 2, 0) == "0000:00:02.0/"
    assert _prefix(stream("timer"), 0x1f, 2) == "0000:00:1f.2/"


def _check_references(doc: dict[str, Any]) -> None:
    refs = []
    for machine in doc["machines"].values():
        refs += [b["schema"] for b in machine["board"]]
        for dev in machine["devices"].values():
            refs += [s["schema"] for s in dev["sections"]]
    missing = {r for r in refs if r is not None and r not in doc["schemas"]}
    assert not missing


def test_bundled_state_files() -> None:
    assert sorted(p.name for p in STATE_FILES) == sorted(f"{r}.state.json" for r in RELEASES)
    for path in STATE_FILES:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        assert doc["format"] == 1, path
        assert doc["release"] == path.name.removesuffix(".state.json")
        assert doc["machines"], path
        _check_references(doc)


@pytest.mark.qemu
def test_device_probe(doc: dict[str, Any]) -> None:
    probe = doc["device_probe"]
    assert sorted(probe) == ["pc-i440fx", "pc-q35"]
    q35 = probe["pc-q35"]
    assert q35["machine"] == "pc-q35-7.2" and q35["ok"] == ["e1000"]
    devices = q35["devices"]
    assert devices["usb-uas"] == {"status": "blocked", "words": "State blocked by "
                                  "non-migratable device '0000:00:01.0/1/usb-uas'"}
    assert devices["ivshmem-plain"]["status"] == "blocked"
    assert "master=on" in devices["ivshmem-plain"]["lifted_by"]
    assert devices["rocker"]["status"] == "blocked"
    assert devices["vfio-pci"]["status"] == "cannot-start"
    assert "host=" in devices["vfio-pci"]["words"]


def test_bundled_device_probes_load() -> None:
    from migcompat.catalog.capture_loader import load_capture

    for path in STATE_FILES:
        probe = load_capture(str(path)).device_probe
        assert set(probe) == {"pc-q35", "pc-i440fx"}, path
        machine, devices = probe["pc-q35"]
        assert machine.startswith("pc-q35-") and len(devices) > 150, path
        assert devices["nvme"].status == "blocked", path
        assert devices["e1000"].status == "ok", path


@pytest.mark.parametrize(("device", "where"), [
    ({"sections": [], "backend_ram": {"memdev": "elsewhere"}},
     "$.machines['pc-q35-7.2'].devices.x.backend_ram.memdev"),
    ({"sections": [], "options": {"master": True}},
     "$.machines['pc-q35-7.2'].devices.x.options"),
])
def test_a_malformed_captured_device_is_a_catalog_error(tmp_path: Path, device: object,
                                                         where: str) -> None:
    from migcompat.catalog.capture_loader import load_capture
    from migcompat.errors import CatalogError

    machine = {"board": [], "ram": [], "pci_first_slot": 1, "devices": {"x": device}}
    doc = {"format": FORMAT, "release": "7.2", "machines": {"pc-q35-7.2": machine}}
    path = tmp_path / "7.2.state.json"
    path.write_text(json.dumps(doc))
    load_capture.cache_clear()
    with pytest.raises(CatalogError) as info:  # a machine is read when it is first asked for
        load_capture(str(path)).machine("pc-q35-7.2")
    (problem,) = info.value.problems
    assert problem.path == where and str(path) in problem.format()


@pytest.mark.parametrize(("probe", "where"), [
    ([], "$.device_probe"),
    ({"pc-q35": {"ok": []}}, "$.device_probe['pc-q35']"),
    ({"pc-q35": {"machine": "pc-q35-7.2", "devices": {"x": {"status": "maybe"}}}},
     "$.device_probe['pc-q35'].devices.x"),
])
def test_a_malformed_device_probe_is_a_catalog_error(tmp_path: Path, probe: object,
                                                      where: str) -> None:
    from migcompat.catalog.capture_loader import load_capture
    from migcompat.errors import CatalogError

    doc = {"format": FORMAT, "release": "7.2", "machines": {}, "device_probe": probe}
    path = tmp_path / "7.2.state.json"
    path.write_text(json.dumps(doc))
    load_capture.cache_clear()
    with pytest.raises(CatalogError) as info:
        load_capture(str(path))
    (problem,) = info.value.problems
    assert problem.path == where and str(path) in problem.format()
