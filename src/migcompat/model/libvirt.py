"""A VM from a libvirt domain XML: the QEMU arguments libvirt gives QEMU for it, in libvirt's
own spelling (``-device {"driver": ...}`` options become ``DRIVER,KEY=VALUE``), which
model/cmdline.py then reads like any command line.

The input is the XML ``virsh dumpxml`` prints: libvirt fills in every controller, PCI
address and alias when a domain is defined, and those decide the guest's slots and buses,
so a device without its ``<address>`` is an error here rather than a guess at libvirt's
allocator. The mapping follows libvirt 9's qemu driver (src/qemu/qemu_command.c); the ids
are libvirt's aliases (``net0``, ``virtio-disk0``, ``pci.1``) because child buses are named
after them (``scsi0.0``, ``usb.0``). tests/model/test_libvirt.py proves it against libvirt
itself: for each XML in tests/data/libvirt, ``virsh domxml-to-native`` must give the same VM.

What is not mapped is an error naming the element; what is the host's alone (graphics,
audio backends, the emulator path, seclabels) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from migcompat.errors import UsageError

PCI_CONTROLLERS = {
    "pcie-root-port": "pcie-root-port", "pcie-to-pci-bridge": "pcie-pci-bridge",
    "pci-bridge": "pci-bridge", "dmi-to-pci-bridge": "i82801b11-bridge",
    "pcie-switch-upstream-port": "x3130-upstream",
    "pcie-switch-downstream-port": "xio3130-downstream",
}
USB = {"qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci", "piix3-uhci": "piix3-usb-uhci",
       "piix4-uhci": "piix4-usb-uhci", "ehci": "usb-ehci", "ich9-ehci1": "ich9-usb-ehci1",
       "ich9-uhci1": "ich9-usb-uhci1", "ich9-uhci2": "ich9-usb-uhci2",
       "ich9-uhci3": "ich9-usb-uhci3"}
NICS = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
        "rtl8139": "rtl8139", "vmxnet3": "vmxnet3", "ne2k_pci": "ne2k_pci"}
INPUTS = {"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}
SOUND = {"ich6": "intel-hda", "ich9": "ich9-intel-hda", "ac97": "AC97", "es1370": "ES1370"}
CODECS = {"duplex": "hda-duplex", "micro": "hda-micro", "output": "hda-output"}
WATCHDOGS = {"i6300esb": "i6300esb", "ib700": "ib700"}
# Elements that configure the host only (or that libvirt turns into backend options).
HOST_ONLY = frozenset({"emulator", "graphics", "audio", "console"})
# The device elements mapped, in the order libvirt gives them to QEMU (after controllers).
HANDLED = ("disk", "interface", "serial", "channel", "input", "video", "sound", "watchdog",
           "memballoon", "rng", "panic")
CONTROLLER_ORDER = ("pci", "usb", "scsi", "ide", "sata", "virtio-serial")
MEMORY_UNITS = {"b": 1, "bytes": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
                "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40, "kb": 1000,
                "mb": 1000 ** 2, "gb": 1000 ** 3}
BOOT_KINDS = {"hd": "disk", "cdrom": "cdrom", "network": "interface", "fd": "floppy"}


@dataclass
class _Domain:
    where: str
    q35: bool
    args: list[str] = field(default_factory=list)
    boot: dict[int, int] = field(default_factory=dict)  # id(element) -> bootindex

    def fail(self, what: str) -> UsageError:
        return UsageError(f"{self.where}: {what} (docs/inputs.md lists the libvirt subset)")

    def device(self, driver: str, *options: str) -> None:
        self.args += ["-device", ",".join([driver, *(o for o in options if o)])]


def _attr(el: Element | None, name: str, default: str = "") -> str:
    return el.get(name, default) if el is not None else default


def _int(text: str) -> int:
    return int(text, 0)


def _pci_bus(dom: _Domain, bus: int) -> str:
    return ("pcie.0" if dom.q35 else "pci.0") if bus == 0 else f"pci.{bus}"


def _address(dom: _Domain, el: Element, what: str, required: bool = True) -> list[str]:
    """``bus=``/``addr=`` (and ``multifunction=on``) of a PCI device."""
    addr = el.find("address")
    if addr is None:
        if required:
            raise dom.fail(f"{what} has no <address>: give the XML `virsh dumpxml` prints "
                           "(libvirt assigns addresses when the domain is defined)")
        return []
    if addr.get("type") != "pci":
        raise dom.fail(f"{what}: address type '{addr.get('type')}' is not mapped")
    slot, function = _int(addr.get("slot", "0")), _int(addr.get("function", "0"))
    out = [f"bus={_pci_bus(dom, _int(addr.get('bus', '0')))}"]
    if addr.get("multifunction") == "on":
        out.append("multifunction=on")
    out.append(f"addr={slot:#x}" + (f".{function:#x}" if function else ""))
    return out


def _boot(dom: _Domain, el: Element) -> str:
    order = el.find("boot")  # the device's own order, else what <os><boot dev> gave it
    index = order.get("order") if order is not None else dom.boot.get(id(el))
    return f"bootindex={index}" if index else ""


def _controller(dom: _Domain, el: Element) -> None:
    kind, model, index = el.get("type"), el.get("model", ""), el.get("index", "0")
    what = f"<controller type='{kind}' index='{index}'>"
    if kind == "pci":
        if model in ("pcie-root", "pci-root"):
            return
        name = _attr(el.find("model"), "name") or PCI_CONTROLLERS.get(model, "")
        if model not in PCI_CONTROLLERS:
            raise dom.fail(f"{what}: model '{model}' is not mapped")
        target = el.find("target")
        extra = []
        if model == "pci-bridge":
            extra.append(f"chassis_nr={_attr(target, 'chassisNr', index)}")
        elif model in ("pcie-root-port", "pcie-switch-downstream-port"):
            extra += [f"port={_int(_attr(target, 'port', '0'))}",
                      f"chassis={_attr(target, 'chassis', index)}"]
        dom.device(name, *extra, f"id=pci.{index}", *_address(dom, el, what))
    elif kind == "usb":
        if model == "none":
            return
        if model not in USB:
            raise dom.fail(f"{what}: model '{model}' is not mapped")
        master = el.find("master")
        ports = el.get("ports")
        if master is not None:  # a UHCI companion of an EHCI: it has no id of its own
            bus = "usb.0" if index == "0" else f"usb{index}.0"
            dom.device(USB[model], f"masterbus={bus}", f"firstport={master.get('startport')}",
                       *_address(dom, el, what))
        else:
            dom.device(USB[model], *([f"p2={ports}", f"p3={ports}"] if ports else []),
                       "id=usb" if index == "0" else f"id=usb{index}", *_address(dom, el, what))
    elif kind in ("sata", "ide"):
        if index != "0":  # the board's own controller is index 0
            dom.device("ahci", f"id={kind}{index}", *_address(dom, el, what))
    elif kind == "scsi":
        if model != "virtio-scsi":
            raise dom.fail(f"{what}: model '{model}' is not mapped")
        queues = _attr(el.find("driver"), "queues")
        dom.device("virtio-scsi-pci", f"id=scsi{index}",
                   f"num_queues={queues}" if queues else "", *_address(dom, el, what))
    elif kind == "virtio-serial":
        ports = el.get("ports")
        dom.device("virtio-serial-pci", f"id=virtio-serial{index}",
                   f"max_ports={ports}" if ports else "", *_address(dom, el, what))
    else:
        raise dom.fail(f"{what} is not mapped")


def _disk(dom: _Domain, el: Element) -> None:
    device, target = el.get("device", "disk"), el.find("target")
    bus, dev = _attr(target, "bus"), _attr(target, "dev")
    what = f"<disk> {dev or '?'}"
    serial = el.findtext("serial")
    tail = [_boot(dom, el), f"serial={serial.replace(',', ',,')}" if serial else ""]
    drive = "" if el.find("source") is None else f"drive=libvirt-{dev}-format"
    if bus == "virtio":
        queues = _attr(el.find("driver"), "queues")
        n = ord(dev[-1]) - ord("a") if dev.startswith("vd") else 0
        dom.device("virtio-blk-pci", f"num-queues={queues}" if queues else "",
                   *_address(dom, el, what), drive, f"id=virtio-disk{n}", *tail)
        return
    addr = el.find("address")
    if addr is None or addr.get("type") != "drive":
        raise dom.fail(f"{what} has no <address type='drive'>: give `virsh dumpxml` output")
    ctl, b, t, u = (addr.get(k, "0") for k in ("controller", "bus", "target", "unit"))
    kind = "cd" if device == "cdrom" else "hd"
    if bus == "sata":
        where = f"bus=ide.{u}" if ctl == "0" else f"bus=sata{ctl}.{u}"
        dom.device(f"ide-{kind}", where, drive, f"id=sata{ctl}-{b}-{u}", *tail)
    elif bus == "ide":
        dom.device(f"ide-{kind}", f"bus=ide.{b}", f"unit={u}", drive, f"id=ide{ctl}-{b}-{u}",
                   *tail)
    elif bus == "scsi":
        alias = f"scsi{ctl}-{b}-{t}-{u}"
        dom.device(f"scsi-{kind}", f"bus=scsi{ctl}.0", f"channel={b}", f"scsi-id={t}",
                   f"lun={u}", f"device_id={(serial or 'drive-' + alias).replace(',', ',,')}",
                   drive, f"id={alias}", *tail)
    else:
        raise dom.fail(f"{what}: bus '{bus}' is not mapped")


def _interface(dom: _Domain, el: Element, n: int) -> None:
    model = _attr(el.find("model"), "type", "rtl8139")
    if model not in NICS:
        raise dom.fail(f"<interface>: model '{model}' is not mapped")
    queues = _int(_attr(el.find("driver"), "queues", "1"))
    # Multiqueue needs a tap backend; libvirt leaves it off for user networking.
    mq = ["mq=on", f"vectors={2 * queues + 2}"] \
        if model == "virtio" and queues > 1 and el.get("type") != "user" else []
    mac = _attr(el.find("mac"), "address")
    dom.device(NICS[model], *mq, f"netdev=hostnet{n}", f"id=net{n}",
               f"mac={mac}" if mac else "", *_address(dom, el, "<interface>"), _boot(dom, el))


def _video(dom: _Domain, el: Element, n: int) -> None:
    model = el.find("model")
    kind, primary = _attr(model, "type"), n == 0

    def kib(name: str) -> int:
        return _int(_attr(model, name, "0"))
    heads = _attr(model, "heads", "1")
    if kind == "none":
        return
    if kind == "vga":
        opts = ["VGA", f"vgamem_mb={kib('vram') // 1024}"]
    elif kind == "cirrus":
        opts = ["cirrus-vga"]
    elif kind == "vmvga":
        opts = ["vmware-svga", f"vgamem_mb={kib('vram') // 1024}"]
    elif kind == "bochs":
        opts = ["bochs-display", f"vgamem={kib('vram') * 1024}"]
    elif kind == "virtio":
        opts = ["virtio-vga" if primary else "virtio-gpu-pci", f"max_outputs={heads}"]
    elif kind == "qxl":
        opts = ["qxl-vga" if primary else "qxl", f"max_outputs={heads}",
                f"ram_size={kib('ram') * 1024}", f"vram_size={kib('vram') * 1024}",
                f"vram64_size_mb={kib('vram64') // 1024}", f"vgamem_mb={kib('vgamem') // 1024}"]
    else:
        raise dom.fail(f"<video>: model '{kind}' is not mapped")
    dom.device(opts[0], f"id=video{n}", *opts[1:], *_address(dom, el, "<video>"))


def _sound(dom: _Domain, el: Element, n: int) -> None:
    model = el.get("model", "")
    if model not in SOUND:
        raise dom.fail(f"<sound model='{model}'> is not mapped")
    dom.device(SOUND[model], f"id=sound{n}", *_address(dom, el, "<sound>"))
    if model in ("ich6", "ich9"):
        codecs = el.findall("codec") or [Element("codec", type="duplex")]
        for c, codec in enumerate(codecs):
            dom.device(CODECS[codec.get("type", "duplex")], f"id=sound{n}-codec{c}",
                       f"bus=sound{n}.0", f"cad={c}")


def _serial_like(dom: _Domain, el: Element, n: int, kind: str) -> None:
    target = el.find("target")
    if kind == "serial":
        model = _attr(target.find("model") if target is not None else None, "name",
                      "isa-serial")
        if model != "isa-serial":
            raise dom.fail(f"<serial>: target model '{model}' is not mapped")
        dom.device("isa-serial", f"chardev=charserial{n}", f"id=serial{n}",
                   f"index={_attr(target, 'port', str(n))}")
        return
    if _attr(target, "type") != "virtio":
        raise dom.fail(f"<channel>: target type '{_attr(target, 'type')}' is not mapped")
    addr = el.find("address")
    ctl, bus = _attr(addr, "controller", "0"), _attr(addr, "bus", "0")
    dom.device("virtserialport", f"bus=virtio-serial{ctl}.{bus}",
               f"nr={_attr(addr, 'port', str(n + 1))}", f"chardev=charchannel{n}",
               f"id=channel{n}", f"name={_attr(target, 'name')}" if target is not None else "")


def _simple(dom: _Domain, el: Element, n: int) -> None:
    tag, model = el.tag, el.get("model", "")
    if tag == "input":
        kind, bus = el.get("type", ""), el.get("bus", "ps2")
        if bus == "ps2":
            return  # the board's i8042 has them
        if bus != "usb" or kind not in INPUTS:
            raise dom.fail(f"<input type='{kind}' bus='{bus}'> is not mapped")
        addr = el.find("address")
        usb = _attr(addr, "bus", "0")
        dom.device(INPUTS[kind], f"id=input{n}", "bus=usb.0" if usb == "0" else f"bus=usb{usb}.0",
                   f"port={_attr(addr, 'port')}" if addr is not None else "")
    elif tag == "memballoon":
        if model == "virtio":
            dom.device("virtio-balloon-pci", f"id=balloon{n}", *_address(dom, el, "<memballoon>"))
        elif model != "none":
            raise dom.fail(f"<memballoon model='{model}'> is not mapped")
    elif tag == "rng":
        backend = el.find("backend")
        if model != "virtio" or _attr(backend, "model") != "random":
            raise dom.fail("<rng>: only model 'virtio' with a 'random' backend is mapped")
        path = (backend.text or "/dev/urandom").strip() if backend is not None else ""
        dom.args += ["-object", f"rng-random,id=objrng{n},filename={path}"]
        dom.device("virtio-rng-pci", f"rng=objrng{n}", f"id=rng{n}", *_address(dom, el, "<rng>"))
    elif tag == "watchdog":
        if model not in WATCHDOGS:
            raise dom.fail(f"<watchdog model='{model}'> is not mapped")
        dom.device(WATCHDOGS[model], f"id=watchdog{n}",
                   *_address(dom, el, "<watchdog>", required=model == "i6300esb"))
    elif tag == "panic":
        if model != "isa":
            raise dom.fail(f"<panic model='{model}'> is not mapped")
        dom.device("pvpanic")
    else:
        raise dom.fail(f"<{tag}> is not mapped")


def _machine(dom: _Domain, root: Element, machine: str) -> None:
    opts = [machine, "usb=off"]
    features = root.find("features")
    for name in ("vmport", "smm"):
        state = _attr(features.find(name) if features is not None else None, "state")
        opts += [f"{name}={state}"] if state else []
    opts += ["dump-guest-core=off", "memory-backend=pc.ram"]
    # UEFI: the firmware and its variable store are flash devices of the board, whose
    # contents migrate as RAM blocks; libvirt gives them as -blockdev nodes.
    loader = root.find("os/loader")
    if loader is not None and loader.get("type") == "pflash":
        opts.append("pflash0=libvirt-pflash0-format")
        if root.find("os/nvram") is not None:
            opts.append("pflash1=libvirt-pflash1-format")
        if loader.get("secure") == "yes":
            dom.args += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    elif loader is not None and loader.get("type", "rom") != "rom":
        raise dom.fail(f"<loader type='{loader.get('type')}'> is not mapped")
    dom.args += ["-machine", ",".join(opts)]
    if features is None or features.find("acpi") is None:
        dom.args.append("-no-acpi")
    for timer in root.iterfind("clock/timer"):
        if timer.get("name") == "hpet" and timer.get("present") == "no":
            dom.args.append("-no-hpet")


def _memory(root: Element, where: str) -> int:
    mem = root.find("memory")
    if mem is None or not (mem.text or "").strip():
        raise UsageError(f"{where}: no <memory>")
    unit = mem.get("unit", "KiB").lower()
    if unit not in MEMORY_UNITS:
        raise UsageError(f"{where}: <memory unit='{mem.get('unit')}'> is not a unit libvirt has")
    return _int((mem.text or "").strip()) * MEMORY_UNITS[unit]


def _boot_order(dom: _Domain, root: Element, devices: Element) -> None:
    """libvirt gives ``<os><boot dev=...>`` as a bootindex on the first device of each kind."""
    index = 1
    for boot in root.iterfind("os/boot"):
        kind = BOOT_KINDS.get(boot.get("dev", ""))
        for el in devices:
            if (kind == "interface" and el.tag == "interface") or \
                    (el.tag == "disk" and el.get("device", "disk") == kind):
                dom.boot[id(el)] = index
                index += 1
                break


def domain_args(text: str | bytes, where: str) -> list[str]:
    """The QEMU arguments libvirt gives for the domain XML ``text`` (read from ``where``)."""
    try:
        root = SafeET.fromstring(text)
    except DefusedXmlException as exc:
        raise UsageError(f"{where}: refused: {exc}") from None
    except SafeET.ParseError as exc:
        raise UsageError(f"{where}: not well-formed XML: {exc}") from None
    if root.tag != "domain":
        raise UsageError(f"{where}: not a libvirt domain XML (the root is <{root.tag}>)")
    os_type = root.find("os/type")
    machine = _attr(os_type, "machine")
    if not machine:
        raise UsageError(f"{where}: no <os><type machine=...>: give `virsh dumpxml` output")
    if _attr(os_type, "arch", "x86_64") != "x86_64":
        raise UsageError(f"{where}: arch '{_attr(os_type, 'arch')}': only x86_64 is modelled")
    dom = _Domain(where, q35="q35" in machine)
    _machine(dom, root, machine)
    mem = _memory(root, where)
    vcpus = (root.findtext("vcpu") or "1").strip()
    topo = root.find("cpu/topology")
    smp = [vcpus] + ([f"{k}={topo.get(k)}" for k in ("sockets", "dies", "cores", "threads")
                      if topo.get(k)] if topo is not None else
                     [f"sockets={vcpus}", "cores=1", "threads=1"])
    dom.args += ["-m", str(mem >> 20), "-object",
                 f"memory-backend-ram,id=pc.ram,size={mem}", "-smp", ",".join(smp),
                 "-nodefaults"]
    devices = root.find("devices")
    if devices is None:
        return dom.args
    _boot_order(dom, root, devices)
    # libvirt's order: controllers (PCI first, by index), then the other devices by kind.
    order = {kind: n for n, kind in enumerate(CONTROLLER_ORDER)}
    controllers = sorted(devices.iterfind("controller"), key=lambda c: (
        order.get(c.get("type", ""), len(order)), _int(c.get("index", "0"))))
    for el in controllers:
        _controller(dom, el)
    handlers: dict[str, Callable[[_Domain, Element, int], None]] = {
        "interface": _interface, "video": _video, "sound": _sound,
        "serial": lambda d, e, n: _serial_like(d, e, n, "serial"),
        "channel": lambda d, e, n: _serial_like(d, e, n, "channel"),
    }
    counts: dict[str, int] = {}
    for tag in HANDLED:
        for el in devices.iterfind(tag):
            n = counts.get(tag, 0)
            counts[tag] = n + 1
            if tag == "disk":
                _disk(dom, el)
            else:
                handlers.get(tag, _simple)(dom, el, n)
    for el in devices:  # what the loop above does not take
        if el.tag not in {"controller", *HANDLED, *HOST_ONLY}:
            raise dom.fail(f"<{el.tag}> is not mapped")
    return dom.args
