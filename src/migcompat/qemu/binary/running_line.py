"""The command line of a running VM (qemu/binary/running.py reads it): each device as a
``-device`` spec with the properties that do not hold their baseline.

The baseline is the model's value when a release is given (:meth:`RunningVM.line_for`): a
property a compat table or a realize rule already gives (num-queues from the vCPUs) stays
out, so it keeps its provenance and ``check`` still sees what the destination makes of it.
Without a release it is QEMU's class default (``device-list-properties``). Values the host
or the bus assigns at realize stay out either way: the destination assigns its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from migcompat.errors import PropertyValueError
from migcompat.model.cmdline import CommandLine
from migcompat.model.devspec import parse_device
from migcompat.model.release import Release
from migcompat.model.vm import Effective, VMConfig, realize_vm
from migcompat.qemu.binary.crosscheck.qom import EXCLUSIONS, Exclusion, same_value
from migcompat.qemu.binary.crosscheck.qom import excluded as environment_assigned

# Values the host or the bus assigns at realize, besides crosscheck/qom.py's EXCLUSIONS
# (where they belong): like an ISA serial port, a parallel port takes the next index and its
# standard I/O base; the floppy controller gives a drive the first free unit, and the
# medium its drive type.
MORE_ASSIGNED = (
    Exclusion("index", "ISA parallel ports are numbered from a global counter", (0xFFFFFFFF,),
              ("isa-parallel",)),
    Exclusion("iobase", "the standard I/O base of the port's index", (0xFFFFFFFF,),
              ("isa-parallel",)),
    Exclusion("unit", "the floppy controller assigns the first free unit", (0xFFFFFFFF,),
              ("floppy",)),
    Exclusion("drive-type", "realize picks the drive type from the medium", ("auto",),
              ("floppy",)),
)
ASSIGNED = EXCLUSIONS + MORE_ASSIGNED
NOTHING = ("", 0, -1, False)  # what a property QEMU states no default for holds when unset
# The values qom-get gives that -device can set from text.
Reading = bool | int | str


@dataclass
class RunningDevice:
    """One device as QEMU holds it: every settable property's value, as qom-get gives it."""

    path: str  # its QOM path
    driver: str
    id: str | None
    bus_path: str  # the QOM path of its bus
    bus: str | None = None  # that bus's name as the model knows it; None: the system bus
    addr: str | None = None  # "SS.F" on a PCI bus
    values: dict[str, Reading] = field(default_factory=dict)
    defaults: dict[str, Reading] = field(default_factory=dict)  # QEMU's class defaults
    skipped: list[str] = field(default_factory=list)  # backends it names: "drive=d0"

    def spec(self, options: Iterable[str]) -> str:
        parts = [self.driver] + [f"id={self.id}"] * bool(self.id)
        parts += [f"bus={self.bus}"] * bool(self.bus) + [f"addr={self.addr}"] * bool(self.addr)
        parts += [f"{p}={text(self.values[p]).replace(',', ',,')}" for p in sorted(options)]
        return ",".join(parts)

    def changed(self) -> list[str]:
        """The properties that do not hold QEMU's class default (without one: those that
        hold something, not "", 0, off or bootindex's -1), less those the host or the bus
        assigns at realize (ASSIGNED)."""
        return [p for p, v in self.values.items()
                if p != "addr" and v != self.defaults.get(p, v if v in NOTHING else None)
                and not any(ex.prop == p and (ex.unset is None or self.defaults.get(p)
                                              in ex.unset) for ex in ASSIGNED)]


def _assigned(name: str, eff: Effective, is_a: Callable[[str, str], bool]) -> bool:
    """Whether the host or the bus gives the property its value at realize, while the model
    holds the value that asks for it (crosscheck/qom.py, which compares QEMU with the model
    the same way, and MORE_ASSIGNED)."""
    if environment_assigned(name, eff, is_a):
        return True
    owner = eff.provenance[0].driver
    return any(ex.prop == name and any(is_a(owner, t) for t in ex.types)
               and eff.value in (ex.unset or ()) for ex in MORE_ASSIGNED)


@dataclass
class RunningVM:
    version: str  # the release id: "7.2"
    package: str  # the build, as QEMU says it ("Debian 1:7.2+dfsg-7+deb12u18")
    line: CommandLine
    machine: str = ""  # the versioned machine type
    machine_options: list[str] = field(default_factory=list)  # "vmport=off"
    smp: int = 1
    mem: str = ""  # "1024M"
    devices: list[RunningDevice] = field(default_factory=list)

    def line_for(self, release: Release | None) -> CommandLine:
        """The command line, with properties against ``release``'s model (None: against
        QEMU's class defaults); see the module docstring."""
        machine_options = self.machine_options
        notes: list[str] = []
        if release is not None:
            family = release.machines.resolve(self.machine, release.id).family
            known = release.machine_options(family)
            if known is not None:
                notes += [f"machine option {o}: not in release {release.id}, left out"
                          for o in machine_options if o.partition("=")[0] not in known]
                machine_options = [o for o in machine_options if o.partition("=")[0] in known]
            options = _against_model(self, release, machine_options, notes)
        else:
            options = [dev.changed() for dev in self.devices]
        return CommandLine(
            machine=",".join([self.machine, *machine_options]), smp=self.smp, mem=self.mem,
            devices=[dev.spec(opts) for dev, opts in zip(self.devices, options, strict=True)],
            defaults=False, vga="none",
            # "drive=d0 (vb0)": the backend first, as cli/vm_inputs.py lists skipped options
            skipped=[f"{s} ({dev.id or dev.driver})" for dev in self.devices for s in dev.skipped],
            notes=notes)


def _against_model(vm: RunningVM, release: Release, machine_options: list[str],
                   notes: list[str]) -> list[list[str]]:
    """The options of each device that the model does not already give. Values a realize
    rule decides are added one at a time, in the order of the rules, and the VM realized
    again: once num-queues is given, vectors (num-queues + 1) follows by itself."""
    chosen: list[list[str]] = [[] for _ in vm.devices]
    order = {d: [r.prop for r in release.types.realize_rules(d)]
             for d in {dev.driver for dev in vm.devices}}
    machine = tuple((o.partition("=")[0], o.partition("=")[2]) for o in machine_options)
    unknown: set[str] = set()
    added = True
    while added:
        specs = [parse_device(dev.spec(opts))
                 for dev, opts in zip(vm.devices, chosen, strict=True)]
        model = realize_vm(VMConfig(release, vm.machine, specs, smp=vm.smp,
                                    mem=int(vm.mem.rstrip("M")) << 20,
                                    machine_options=machine))
        offset = len(model.devices) - len(vm.devices)  # the board's USB controllers first
        added = False
        for pos, dev in enumerate(vm.devices):
            view = model.devices[offset + pos].view()
            plain: list[str] = []
            derived: list[str] = []
            for name, value in dev.values.items():
                eff = view.get(name)
                if name in chosen[pos] or name == "addr":
                    continue
                if eff is None:
                    if name in dev.changed():
                        unknown.add(f"{dev.driver}.{name}={text(value)}")
                elif not (_assigned(name, eff, release.types.is_a)
                          or same_value(eff.value, eff.prop.kind, value)):
                    try:
                        eff.prop.parse(text(value))
                    except PropertyValueError as exc:  # QEMU took it; the model does not
                        unknown.add(f"{dev.driver}.{name}={text(value)} ({exc})")
                        continue
                    (derived if eff.decided_by.source == "realize" else plain).append(name)
            rules = order[dev.driver]
            derived.sort(key=lambda n: rules.index(n) if n in rules else len(rules))
            if plain or derived:
                chosen[pos] += plain or derived[:1]
                added = True
    if unknown:
        notes.append(f"not in release {release.id}'s model, left out: "
                     f"{', '.join(sorted(unknown))}")
    return chosen


def text(value: Reading) -> str:
    """A value as -device text: on/off, integers in decimal, strings as they are."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
