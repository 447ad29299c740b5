"""A realized VM: every device's effective property values, each with its provenance.

The layers follow QEMU (reference §2.2): class default, then in each object's post_init the
machine compat list, sugar and user globals; then explicit device options; then realize-time
resolution of sentinel defaults. A proxy (virtio-*-pci) creates its backend child in
instance_init, so the child is complete with its own layers before the proxy's post_init
applies the proxy's, writing through the aliases (reference §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from migcompat.errors import DeviceError, GlobalPropertyError, MigcompatError, PropertyValueError
from migcompat.model.buses import BOARD_USB, Bus, Placer, kind_needed, provided
from migcompat.model.devspec import DeviceSpec
from migcompat.model.globals import GlobalProperty
from migcompat.model.machine_options import machine_values
from migcompat.model.machines import MachineType
from migcompat.model.objects import BACKEND, ObjectSpec, UserObject, create_objects
from migcompat.model.props import TEXT_KINDS, Property, Value
from migcompat.model.release import Release
from migcompat.model.types import RealizeRule


@dataclass(frozen=True)
class Layer:
    """One step that set a value. ``source`` is default|compat|sugar|global|device|realize."""

    source: str
    value: Value
    table: str = ""
    index: int = -1
    file: str = ""
    line: int = 0
    driver: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "value": self.value}
        if self.table:
            out["table"] = self.table
        if self.index >= 0:
            out["index"] = self.index
        if self.file:
            out["file"] = self.file
        if self.line:
            out["line"] = self.line
        if self.driver:
            out["driver"] = self.driver
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Effective:
    prop: Property
    value: Value
    provenance: list[Layer]

    def set(self, value: Value, layer: Layer) -> None:
        self.value = value
        self.provenance.append(layer)

    @property
    def decided_by(self) -> Layer:
        return self.provenance[-1]


@dataclass
class DeviceObject:
    path: str
    type: str
    id: str | None
    props: dict[str, Effective]
    child: DeviceObject | None = None
    child_name: str = ""
    aliases: frozenset[str] = frozenset()  # property names aliased from the child
    bus: str = ""  # the bus it sits on ("pcie.0"); "" for the main system bus
    address: str = ""  # a PCI device's qdev path ("0000:00:02.0"), its sections' prefix
    behind_express_port: bool = False  # its bus is a PCIe port's (not the root bus)

    def lookup(self, name: str) -> Effective | None:
        if name in self.props:
            return self.props[name]
        if self.child is not None and name in self.aliases:
            return self.child.lookup(name)
        return None

    def view(self) -> dict[str, Effective]:
        """Own properties plus the child's aliased ones, as QOM shows them on the proxy."""
        out = dict(self.props)
        if self.child is not None:
            for name in sorted(self.aliases):
                eff = self.child.lookup(name)
                if eff is not None:
                    out[name] = eff
        return dict(sorted(out.items()))

    def value(self, name: str) -> Value:
        eff = self.lookup(name)
        return eff.value if eff else None


@dataclass(frozen=True)
class VMConfig:
    release: Release
    machine: str
    devices: Sequence[DeviceSpec] = ()
    smp: int = 1
    mem: int = 128 << 20
    globals: Sequence[GlobalProperty] = ()
    objects: Sequence[ObjectSpec] = ()
    machine_options: Sequence[tuple[str, str]] = ()  # -machine TYPE,KEY=VALUE,...


@dataclass
class VM:
    config: VMConfig
    machine: MachineType
    devices: list[DeviceObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    objects: dict[str, UserObject] = field(default_factory=dict)  # -object, by id
    machine_options: dict[str, Value] = field(default_factory=dict)  # as given, typed
    # The devices the board creates (hpet, mc146818rtc...), as the build was seen to make
    # them: compat lists and -global apply to them too. Built only when a -global is given.
    board: list[DeviceObject] = field(default_factory=list)

    @property
    def release(self) -> Release:
        return self.config.release

    def all_objects(self) -> list[DeviceObject]:
        """Devices in creation order, each followed by its child."""
        out: list[DeviceObject] = []
        for dev in self.devices:
            out.append(dev)
            if dev.child is not None:
                out.append(dev.child)
        return out

    def mapped_backends(self) -> dict[tuple[str, str], UserObject]:
        """The memory backends devices map, by (device path, link property): QEMU migrates
        each one's RAM as a RAM block named by the backend's id."""
        out = {}
        for obj in self.all_objects():
            for name, eff in obj.props.items():
                if eff.prop.kind == "link" and isinstance(eff.value, str) and \
                        eff.value in self.objects and \
                        self.objects[eff.value].is_backend(self.release):
                    out[(obj.path, name)] = self.objects[eff.value]
        return out

    def find(self, path: str) -> DeviceObject | None:
        for obj in self.all_objects():
            if obj.path == path or obj.id == path:
                return obj
        return None


class Builder:
    """Creates and realizes objects as QEMU does; ``lenient`` skips a compat entry or global
    that names a property the type lacks (or a value it cannot parse) instead of refusing,
    so ``diff`` can evaluate every type of a release with partial data."""

    def __init__(self, config: VMConfig, machine: MachineType, lenient: bool = False) -> None:
        self.config = config
        self.release = config.release
        self.types = config.release.types
        self.machine = machine
        self.compat = config.release.machines.compat_list(machine)
        family = config.release.machines.families.get(machine.family)
        self.sugar: list[GlobalProperty] = list(family.sugar) if family else []
        self.user = list(config.globals)
        self.used: set[int] = set()
        self.bus: Bus | None = None  # where the device being realized sits
        self.lenient = lenient
        self.board = False  # creating a board device: see board_device()

    # -- object creation -------------------------------------------------------------
    def create(self, type_name: str, path: str, dev_id: str | None) -> DeviceObject:
        props: dict[str, Effective] = {}
        for name, prop in self.types.properties(type_name).items():
            detail = f"unresolved: {prop.unresolved}" if prop.unresolved else ""
            if not prop.has_default and not detail:
                detail = "no static default"
            layer = Layer("default", prop.default, file=prop.file, line=prop.line,
                          driver=type_name, detail=detail)
            props[name] = Effective(prop, prop.default, [layer])
        obj = DeviceObject(path=path, type=type_name, id=dev_id, props=props)
        child = self.types.child_of(type_name)
        if child is not None:
            if child.type not in self.types:
                raise DeviceError(f"type '{type_name}' needs child type '{child.type}', "
                                  "which this release does not have")
            # instance_init: the child is created (and post-initialised) first...
            obj.child = self.create(child.type, f"{path}/{child.name}", None)
            obj.child_name = child.name
            # ...then all of its properties are aliased onto the proxy.
            obj.aliases = frozenset(n for n in obj.child.view() if n not in props)
        self.instance_init(obj)
        self.post_init(obj)
        return obj

    def board_device(self, type_name: str) -> DeviceObject | None:
        """A device the board creates, or None when the catalog cannot model it. A user's
        -global that names a property it lacks is an error, as QEMU's machine init makes
        it; a compat entry that does is not (the catalog may lack a property the build has,
        and the board's devices are not the user's)."""
        self.board = True
        try:
            return self.create(type_name, f"board/{type_name}", None)
        except GlobalPropertyError as exc:
            if exc.source == "global":  # the user's -global
                raise
            return None
        except MigcompatError:
            return None
        finally:
            self.board = False

    def instance_init(self, obj: DeviceObject) -> None:
        # Values instance_init writes over class defaults (after the child exists, so a
        # write through an alias lands on the child, overriding its compat entries).
        for owner, init in self.types.init_values(obj.type):
            eff = obj.lookup(init.prop)
            if eff is None:
                continue
            value = _typed(eff, init.value)
            eff.set(value, Layer("default", value, driver=owner,
                                 detail=f"instance_init of {owner}"))

    def post_init(self, obj: DeviceObject) -> None:
        # device_post_init: compat lists (machine, then sugar), then the user's globals.
        self.apply_list(obj, self.compat)
        self.apply_list(obj, self.sugar)
        self.apply_list(obj, self.user, user=True)

    def apply_list(self, obj: DeviceObject, entries: Sequence[GlobalProperty],
                   user: bool = False) -> None:
        isa = self.types.isa(obj.type)
        for pos, entry in enumerate(entries):
            if entry.driver not in isa:
                continue
            lenient = self.lenient or (self.board and not user)
            eff = obj.lookup(entry.property)
            if eff is None:
                if entry.optional or lenient:
                    continue
                raise GlobalPropertyError(
                    entry.driver, entry.property, entry.value,
                    f"Property '{obj.type}.{entry.property}' not found", source=entry.source)
            if user:
                self.used.add(pos)
            try:
                value = eff.prop.parse(entry.value)
            except PropertyValueError as exc:
                if lenient:
                    continue
                raise GlobalPropertyError(entry.driver, entry.property, entry.value,
                                          exc.with_type(obj.type), source=entry.source) from None
            eff.set(value, Layer(entry.source, value, table=entry.table, index=entry.index,
                                 file=entry.file, line=entry.line, driver=entry.driver))

    # -- explicit options and realize ------------------------------------------------
    def set_options(self, obj: DeviceObject, spec: DeviceSpec) -> None:
        for key, text in spec.options:
            eff = obj.lookup(key)
            if eff is None:
                raise DeviceError(f"Property '{obj.type}.{key}' not found")
            try:
                value = eff.prop.parse(text)
            except PropertyValueError as exc:
                raise DeviceError(f"{spec.driver}: {exc.with_type(obj.type)}") from None
            eff.set(value, Layer("device", value, driver=spec.driver, detail=spec.text()))

    def realize(self, obj: DeviceObject) -> None:
        # The proxy resolves its sentinels (reading and writing through aliases) before it
        # realizes the child, whose own rules then see the resolved values.
        for rule in self.types.realize_rules(obj.type):
            self.apply_rule(obj, rule)
        if obj.child is not None:
            self.realize(obj.child)

    def apply_rule(self, obj: DeviceObject, rule: RealizeRule) -> None:
        eff = obj.lookup(rule.prop)
        if eff is None:
            return
        if rule.always:
            pass
        elif (eff.value is not None) if rule.unset else (eff.value != rule.when):
            return
        if rule.bus and (self.bus is None or not self.bus.name.startswith(rule.bus)):
            return
        for name, expected in rule.require:
            other = obj.lookup(name)
            if other is None or other.value != _typed(other, expected):
                return
        if rule.op == "vcpus":
            value: Value = min(self.config.smp, rule.cap) if rule.cap else self.config.smp
            detail = f"min(vCPUs={self.config.smp}, {rule.cap})" if rule.cap else "vCPUs"
        elif rule.op == "property":
            base = obj.value(rule.source)
            if not isinstance(base, int) or isinstance(base, bool):
                if rule.add or rule.floor is not None or base is None:
                    return
                value, detail = base, rule.source
            else:
                value = base + rule.add
                detail = f"{rule.source} + {rule.add}" if rule.add else rule.source
                if rule.floor is not None and value < rule.floor:
                    value, detail = rule.floor, f"max({detail}={value}, {rule.floor})"
        elif rule.op == "machine":
            field_value = self.release.machines.field(self.machine, rule.source)
            value = field_value if field_value is not None else rule.value  # type: ignore[assignment]
            detail = (f"machine {self.machine.name} {rule.source}" if field_value is not None
                      else f"{rule.source} not set by {self.machine.name}: default")
        elif rule.op == "pcie-port":
            behind = self.bus is not None and self.bus.express_port
            value = rule.value if behind else rule.otherwise  # type: ignore[assignment]
            detail = (f"behind the PCIe port of {self.bus.name}" if behind and self.bus
                      else "not behind a PCIe port")
        else:
            value = rule.value  # type: ignore[assignment]
            detail = "constant"
        # Data files write constants as QEMU text ("on", "0x10"), like compat entries.
        value = _typed(eff, value)
        eff.set(value, Layer("realize", value, file=rule.file, line=rule.line,
                             driver=obj.type, detail=detail))


def _typed(eff: Effective, value: object) -> Value:
    """A value written in a data file, typed by the property's kind (text is parsed)."""
    if isinstance(value, str) and eff.prop.kind not in TEXT_KINDS:
        return eff.prop.parse(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    raise PropertyValueError(f"unsupported value {value!r}", eff.prop.name)


def _check_links(obj: DeviceObject, objects: dict[str, UserObject], release: Release) -> None:
    """A link to a memory backend names one of the -object's, of that type (the other
    links, to iothreads, chardevs and drives, are the host's business here)."""
    for name, eff in obj.view().items():
        target = eff.prop.link_type
        if eff.prop.kind != "link" or not isinstance(eff.value, str) or not eff.value or \
                not release.types.is_a(target, BACKEND):
            continue
        found = objects.get(eff.value)
        if found is None:
            raise DeviceError(f"Device '{eff.value}' not found")
        if not release.types.is_a(found.qom_type, target):
            raise DeviceError(f"Invalid parameter type for '{name}', expected: {target}")


def board_devices(vm: VM) -> list[DeviceObject]:
    """``vm.board``, built now if it was not (a VM without -global leaves it empty): the
    other side of a comparison has a -global."""
    if not vm.board:
        vm.board = _board_devices(Builder(vm.config, vm.machine), vm.release,
                                  vm.machine.name, force=True)
    return vm.board


def _board_devices(builder: Builder, release: Release, machine: str,
                   force: bool = False) -> list[DeviceObject]:
    """The board's devices, from the build's capture of ``machine`` (none without one).
    Only a user's -global makes them differ from what the machine type gives every VM of
    it, so without one (and unless ``force``) they are not built: a fifth of a small
    check's time."""
    if not builder.user and not force:
        return []
    capture = release.capture()
    captured = capture.machine(machine) if capture is not None else None
    if captured is None:
        return []
    out = []
    for type_name in captured.board_types:
        if type_name in release.types and not release.types[type_name].abstract:
            obj = builder.board_device(type_name)
            if obj is not None:
                out.append(obj)
    return out


def _first_slot(release: Release, machine: str) -> int | None:
    """The root bus's first free slot, as the build was seen to give it."""
    capture = release.capture()
    captured = capture.machine(machine) if capture is not None else None
    return captured.pci_first_slot if captured is not None else None


def _place(obj: DeviceObject, bus: Bus, placer: Placer, spec: DeviceSpec) -> None:
    obj.bus = bus.name
    bus.devices += 1
    if bus.kind != "PCI":
        return
    eff = obj.lookup("addr")
    devfn = eff.value if eff is not None and isinstance(eff.value, int) else -1
    multi = obj.lookup("multifunction")
    slot, fn = placer.pci_slot(bus, devfn, f"{spec.driver},id={spec.id or '(null)'}",
                               multifunction=multi is not None and multi.value is True)
    obj.address = f"{bus.address}:{slot:02x}.{fn}"
    if eff is not None and devfn < 0:
        # What "auto" became: an explicit addr= naming the same slot is the same VM.
        value = slot << 3 | fn
        eff.set(value, Layer("realize", value, driver=obj.type,
                             detail=f"the first free slot of {bus.name}"))


_UNSET = (0xFFFFFFFF, -1)
# isa_serial_io/isa_serial_irq and isa_parallel_io (hw/char/serial-isa.c, parallel-isa.c)
_ISA_PORTS = {"isa-serial": ((0x3F8, 4), (0x2F8, 3), (0x3E8, 4), (0x2E8, 3)),
              "isa-parallel": ((0x378, None), (0x278, None), (0x3BC, None))}


class _Numbers:
    """What realize numbers when the user did not (crosscheck compares them with QEMU): a
    SCSI device's first free target id (and LUN 0: scsi_qdev_realize), an IDE device's first
    free unit, a virtio-serial port's first free number (0 is kept for a console), and ISA
    serial and parallel ports' index from a counter of each type, with the standard I/O base
    and IRQ of that index."""

    def __init__(self) -> None:
        self.taken: dict[str, set[object]] = {}
        self.isa: dict[str, int] = {}

    def _set(self, obj: DeviceObject, name: str, value: int, detail: str) -> None:
        eff = obj.props[name]
        eff.set(_typed(eff, value), Layer("realize", value, driver=obj.type, detail=detail))

    def _unset(self, obj: DeviceObject, name: str) -> bool:
        eff = obj.props.get(name)
        return eff is not None and eff.value in _UNSET

    def assign(self, obj: DeviceObject, bus: Bus | None, is_a: Callable[[str], bool]) -> None:
        taken = self.taken.setdefault(bus.name, set()) if bus is not None else set()
        if bus is not None and bus.kind == "SCSI" and "scsi-id" in obj.props \
                and "lun" in obj.props:
            sid, lun = obj.props["scsi-id"].value, obj.props["lun"].value
            if sid in _UNSET:
                lun = 0 if lun in _UNSET else lun
                sid = next((i for i in range(256) if (i, lun) not in taken), 0)
                self._set(obj, "scsi-id", sid, f"the first free target id on {bus.name}")
            elif lun in _UNSET:
                lun = next((n for n in range(256) if (sid, n) not in taken), 0)
            if self._unset(obj, "lun") and isinstance(lun, int):
                self._set(obj, "lun", lun, "the first free LUN")
            taken.add((sid, lun))
        elif bus is not None and bus.kind == "IDE" and is_a("ide-device") and "unit" in obj.props:
            if self._unset(obj, "unit"):
                unit = next((u for u in (0, 1) if u not in taken), 0)
                self._set(obj, "unit", unit, f"the first free unit on {bus.name}")
            taken.add(obj.props["unit"].value)
        elif bus is not None and bus.kind == "virtio-serial-bus" and "nr" in obj.props:
            if not taken:
                taken.add("console")  # port 0 is kept for a console
            if self._unset(obj, "nr"):
                console = is_a("virtconsole") and 0 not in taken
                nr = 0 if console else next(n for n in range(1, 32) if n not in taken)
                self._set(obj, "nr", nr, f"the first free port number on {bus.name}")
            taken.add(obj.props["nr"].value)
        for kind, ports in _ISA_PORTS.items():
            if obj.type == kind or is_a(kind):
                counter = self.isa.get(kind, 0)
                self.isa[kind] = counter + 1
                if self._unset(obj, "index"):
                    self._set(obj, "index", counter, f"the {kind} counter")
                index = obj.props["index"].value
                if isinstance(index, int) and 0 <= index < len(ports):
                    base, irq = ports[index]
                    if self._unset(obj, "iobase"):
                        self._set(obj, "iobase", base, f"the I/O base of {kind} {index}")
                    if irq is not None and self._unset(obj, "irq"):
                        self._set(obj, "irq", irq, f"the IRQ of {kind} {index}")


class _Macs:
    """QEMU's default MAC addresses (net/net.c qemu_macaddr_default_if_unset): a NIC without
    mac= gets 52:54:00:12:34:XX, XX the lowest byte from 0x56 up that no NIC realized
    before it holds; a NIC's own 52:54:00:12:34:XX takes XX. A NIC is an object with both
    properties of DEFINE_NIC_PROPERTIES, mac and netdev (a virtio proxy's child)."""

    PREFIX = "52:54:00:12:34:"

    def __init__(self) -> None:
        self.used: set[int] = set()

    def assign(self, dev: DeviceObject) -> None:
        for obj in (dev, dev.child) if dev.child is not None else (dev,):
            mac, netdev = obj.props.get("mac"), obj.props.get("netdev")
            if mac is None or netdev is None:
                continue
            if isinstance(mac.value, str):
                own = re.fullmatch(re.escape(self.PREFIX) + "([0-9a-f]{2})", mac.value.lower())
                if own is not None:
                    self.used.add(int(own.group(1), 16))
                continue
            byte = next((b for b in range(0x56, 0x100) if b not in self.used), 0xFF)
            self.used.add(byte)
            value = f"{self.PREFIX}{byte:02x}"
            mac.set(value, Layer("realize", value, driver=obj.type,
                                 detail="the first free default MAC address"))


# Devices a VM can have one of, with QEMU's refusal of a second, by the type of the
# object (or of a proxy's child: virtio-balloon-pci's is a virtio-balloon-device, which
# registers the VM's one balloon handler at realize, hw/virtio/virtio-balloon.c).
ONE_OF_A_KIND = {"virtio-balloon-device": "Only one balloon device is supported"}


def _one_of_a_kind(obj: DeviceObject, release: Release, seen: set[str]) -> None:
    types = [obj.type] + ([obj.child.type] if obj.child is not None else [])
    for kind, words in ONE_OF_A_KIND.items():
        if any(release.types.is_a(t, kind) for t in types):
            if kind in seen:
                raise DeviceError(words)
            seen.add(kind)


def realize_vm(config: VMConfig) -> VM:
    """Build the VM: resolve the machine, create and realize every device in order."""
    release = config.release
    machine = release.machines.resolve(config.machine, release.id)
    most = release.machines.field(machine, "max_cpus")
    if isinstance(most, int) and config.smp > most:  # QEMU checks -smp before any device
        raise DeviceError(f"Invalid SMP CPUs {config.smp}. The max CPUs supported by machine "
                          f"'{machine.name}' is {most}")
    builder = Builder(config, machine)
    options = machine_values(machine.name, release.machine_options(machine.family),
                             config.machine_options)
    vm = VM(config=config, machine=machine, objects=create_objects(release, config.objects),
            machine_options=options)
    seen_ids: set[str] = set()
    vm.board = _board_devices(builder, release, machine.name)
    transports = release.machines.field(machine, "virtio_transports")
    placer = Placer(machine.family, _first_slot(release, machine.name),
                    transports if isinstance(transports, int) else None)
    board = [DeviceSpec(t, options=(("addr", a),)) for t, a in BOARD_USB.get(machine.family, ())
             if options.get("usb") is True]
    anonymous: dict[str, int] = {}
    singles: set[str] = set()
    macs = _Macs()
    numbers = _Numbers()
    for spec in [*board, *config.devices]:
        info = release.types.get(spec.driver)
        if info is None or not release.types.is_a(spec.driver, "device"):
            raise DeviceError(f"'{spec.driver}' is not a valid device model name"
                              f" in release {release.id}")
        if info.abstract:
            raise DeviceError(f"'{spec.driver}' is an abstract type; pick a concrete device")
        if spec.id is not None:
            if spec.id in seen_ids:
                raise DeviceError(f"Duplicate device ID '{spec.id}'")
            seen_ids.add(spec.id)
        def is_a(ancestor: str, driver: str = spec.driver) -> bool:
            return release.types.is_a(driver, ancestor)
        # QEMU finds the bus first, then sets the options, then realizes (qdev_device_add).
        bus = placer.bus_for(spec.driver, kind_needed(is_a), spec.bus)
        # A device without id is named TYPE#N (the Nth of its type): people can tell
        # e1000#2 apart from virtio-net-pci#1, and QEMU ids cannot contain '#'.
        if spec.id is None:
            anonymous[spec.driver] = anonymous.get(spec.driver, 0) + 1
        path = spec.id or f"{spec.driver}#{anonymous[spec.driver]}"
        obj = builder.create(spec.driver, path, spec.id)
        _one_of_a_kind(obj, release, singles)
        builder.set_options(obj, spec)
        _check_links(obj, vm.objects, release)
        builder.bus = bus
        obj.behind_express_port = bus is not None and bus.express_port
        builder.realize(obj)
        macs.assign(obj)
        if bus is not None:
            _place(obj, bus, placer, spec)
        numbers.assign(obj, bus, is_a)
        placer.add_buses(provided(is_a), path, spec.id, obj.address,
                         express_port=is_a("pcie-port"))
        vm.devices.append(obj)
    for pos, entry in enumerate(builder.user):
        if pos not in builder.used and not release.types.is_a(entry.driver, "device"):
            vm.warnings.append(f"global {entry.driver}.{entry.property} has invalid class name")
    return vm
