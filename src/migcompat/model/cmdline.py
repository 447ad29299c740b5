"""A VM from a QEMU command line, as operators hold it (``ps``, ``/proc/PID/cmdline``, what
libvirt starts): the options that shape the guest's hardware become the VM's machine,
devices, globals, objects, vCPUs and RAM; the backend-only ones are listed as skipped.

Sugar becomes the devices QEMU makes of it (vl.c, blockdev.c, net.c, hw/i386/pc.c):
``-drive if=virtio`` a virtio-blk-pci, ``if=ide`` (the PC default) an ide-hd or ide-cd on
the board's IDE bus, ``-nic`` and ``-net nic`` the machine's default NIC model, ``-vga``
its display device, ``-usb`` the machine option ``usb=on``, ``-no-hpet`` ``hpet=off``,
``-kernel`` and friends the machine's kernel options. Without ``-nodefaults`` QEMU adds its
default devices: a VGA, the default NIC unless ``-nic``/``-net`` says otherwise, a serial
and a parallel port, a CD-ROM, and a floppy drive on i440fx. The order is QEMU's, which
decides PCI slots: the display and the NICs at machine init, then ``-device``, then the
devices of ``-drive if=virtio``. Libvirt's JSON forms (``-device {...}``, ``-object {...}``)
are taken too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from migcompat.errors import UsageError
from migcompat.model.devspec import split_options

# Options that take no argument.
FLAGS = frozenset({
    "-nodefaults", "-no-user-config", "-nographic", "-S", "-enable-kvm", "-no-reboot",
    "-no-shutdown", "-usb", "-no-hpet", "-daemonize", "-snapshot", "-mem-prealloc",
    "-full-screen", "-no-fd-bootchk", "-only-migratable", "-preconfig", "-nodefconfig",
    "-no-kvm", "-s", "-no-acpi",
})
# Options whose argument configures the host side only: they change nothing the guest has
# or the migration carries, and are listed as skipped.
BACKEND = frozenset({
    "-chardev", "-netdev", "-blockdev", "-audiodev", "-mon", "-qmp", "-qmp-pretty",
    "-monitor", "-display", "-vnc", "-spice", "-name", "-pidfile", "-runas", "-chroot",
    "-sandbox", "-msg", "-overcommit", "-D", "-d", "-trace", "-L", "-k", "-incoming",
    "-add-fd", "-iscsi", "-fsdev", "-virtfs", "-tpmdev", "-loadvm", "-run-with",
    "-action", "-compat", "-plugin", "-gdb", "-semihosting-config", "-icount", "-rtc",
    "-boot", "-uuid", "-smbios", "-fw_cfg", "-bios", "-mem-path", "-cpu", "-accel", "-numa",
    "-watchdog-action",
})
NOTES = {
    "-cpu": "CPU models are out of scope: the check assumes the same CPU on both sides",
    "-accel": "the accelerator does not change the device state compared here",
    "-enable-kvm": "the accelerator does not change the device state compared here",
    "-numa": "the NUMA topology is not compared",
    "-smbios": "SMBIOS strings (guest-visible, not migrated) are not compared",
}
DEFAULT_NIC = {"pc-q35": "e1000e", "pc-i440fx": "e1000", "isapc": "ne2k_isa"}
VGA = {"std": "VGA", "cirrus": "cirrus-vga", "vmware": "vmware-svga", "qxl": "qxl-vga",
       "virtio": "virtio-vga", "bochs": "bochs-display"}
MACHINE_SUGAR = {"-kernel": "kernel", "-initrd": "initrd", "-append": "append",
                 "-dtb": "dtb"}


@dataclass
class CommandLine:
    """What a command line says about the VM (None: it does not say)."""

    machine: str | None = None  # the -machine argument, options included
    smp: int | None = None
    mem: str | None = None
    devices: list[str] = field(default_factory=list)  # -device, in order
    drive_devices: list[str] = field(default_factory=list)  # -drive if=virtio, after them
    nics: list[str | None] = field(default_factory=list)  # -nic/-net nic models (None: default)
    nics_off: bool = False  # -nic none / -net none
    globals: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    machine_options: list[str] = field(default_factory=list)  # from sugar (-usb, -kernel)
    defaults: bool = True  # no -nodefaults
    vga: str | None = None  # -vga TYPE ("none" for none)
    no_serial: bool = False
    no_parallel: bool = False
    skipped: list[str] = field(default_factory=list)  # options taken as the host's only
    notes: list[str] = field(default_factory=list)

    def all_devices(self, family: str) -> list[str]:
        """The devices QEMU makes on a machine of ``family``, in its order."""
        out: list[str] = []
        vga = self.vga if self.vga is not None else ("std" if self.defaults else "none")
        if vga != "none":
            if vga not in VGA:
                raise UsageError(f"-vga {vga}: not a known display type ({', '.join(VGA)})")
            out.append(VGA[vga])
        default_nic = DEFAULT_NIC.get(family, "e1000")
        nics = self.nics if self.nics or self.nics_off or not self.defaults else [None]
        out += [model or default_nic for model in nics]
        out += self.devices + self.drive_devices
        if self.defaults:
            out += ["isa-serial"] * (not self.no_serial) + ["isa-parallel"] * (not self.no_parallel)
            out.append("ide-cd,bus=ide.1,unit=0" if family == "pc-i440fx" else "ide-cd,bus=ide.2")
            if family == "pc-i440fx":
                out.append("floppy")
        return out


def _opts(text: str) -> tuple[str, dict[str, str]]:
    """The implied first value and the KEY=VALUE options of a QemuOpts argument."""
    items = split_options(text)
    first = items[0] if items and "=" not in items[0] else ""
    return first, dict(i.partition("=")[::2] for i in items if "=" in i)


def _json_spec(text: str, what: str) -> str:
    """libvirt's ``-device {"driver": "virtio-blk-pci", ...}`` as KEY=VALUE options."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"-{what} {text[:60]}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"-{what} {text[:60]}: expected a JSON object")
    head = str(doc.pop("driver" if what == "device" else "qom-type", ""))

    def value(v: object) -> str:
        return ("on" if v else "off") if isinstance(v, bool) else str(v).replace(",", ",,")
    return ",".join([head, *(f"{k}={value(v)}" for k, v in doc.items())])


def _smp(text: str) -> int:
    first, opts = _opts(text)
    cpus = opts.get("cpus") or first
    try:
        if cpus:
            return int(cpus, 0)
        product = 1  # QEMU: cpus = sockets * dies * clusters * cores * threads
        for key in ("sockets", "dies", "clusters", "cores", "threads"):
            product *= int(opts.get(key, "1"), 0)
        return product
    except ValueError:
        raise UsageError(f"-smp {text}: not a CPU count or topology") from None


def _drive(arg: str, line: CommandLine, ide_index: list[int]) -> None:
    _, opts = _opts(arg)
    where = opts.get("if", "ide")
    drive_id = opts.get("id") or f"drive{len(line.devices) + len(line.drive_devices)}"
    if where == "none":
        line.skipped.append(f"-drive {arg} (a backend for a device's drive=)")
    elif where == "virtio":
        line.drive_devices.append(f"virtio-blk-pci,drive={drive_id}")
    elif where == "ide":
        # index=N is IDE bus N // 2, unit N % 2; without it, the next free one.
        index = int(opts["index"]) if "index" in opts else len(ide_index)
        ide_index.append(index)
        kind = "ide-cd" if opts.get("media") == "cdrom" else "ide-hd"
        line.devices.append(f"{kind},drive={drive_id},bus=ide.{index // 2},unit={index % 2}")
    elif where == "pflash":
        line.skipped.append(f"-drive {arg} (a flash image: the machine's pflash)")
    else:
        raise UsageError(f"-drive {arg}: if={where} is not modelled (give the device with "
                         "-device and the drive with if=none)")


def _nic(opt: str, arg: str, line: CommandLine) -> None:
    first, opts = _opts(arg)
    if first == "none":
        line.nics_off = True
    elif opt == "-nic" or first == "nic":
        line.nics.append(opts.get("model"))
    else:  # -net user, -net tap...: the backend of a -net nic
        line.skipped.append(f"{opt} {arg}")


def _flag(opt: str, line: CommandLine) -> None:
    if opt == "-nodefaults":
        line.defaults = False
    elif opt == "-usb":
        line.machine_options.append("usb=on")
    elif opt == "-no-hpet":
        line.machine_options.append("hpet=off")
    elif opt == "-no-acpi":  # what libvirt gives for a domain without <acpi/>
        line.machine_options.append("acpi=off")
    elif opt == "-nographic":
        line.vga = line.vga or "none"
    else:
        line.skipped.append(opt)
        if opt in NOTES:
            line.notes.append(f"{opt}: {NOTES[opt]}")


def parse_command_line(args: Sequence[str]) -> CommandLine:
    """Read QEMU's arguments (without the program name); an option this does not know is an
    error naming it."""
    line = CommandLine()
    ide_index: list[int] = []
    i = 0
    while i < len(args):
        opt = args[i]
        if not opt.startswith("-"):
            raise UsageError(f"'{opt}': expected an option (a disk image given alone is not "
                             "modelled: use -drive)")
        opt = "-" + opt.lstrip("-")  # QEMU takes --device as -device
        if opt in FLAGS:
            _flag(opt, line)
            i += 1
            continue
        if i + 1 >= len(args):
            raise UsageError(f"{opt} requires an argument")
        arg = args[i + 1]
        i += 2
        if opt in ("-M", "-machine"):
            line.machine = arg
        elif opt == "-smp":
            line.smp = _smp(arg)
        elif opt == "-m":
            first, opts = _opts(arg)
            line.mem = opts.get("size") or first
        elif opt == "-device":
            line.devices.append(_json_spec(arg, "device") if arg.startswith("{") else arg)
        elif opt == "-global":
            line.globals.append(arg)
        elif opt == "-object":
            line.objects.append(_json_spec(arg, "object") if arg.startswith("{") else arg)
        elif opt == "-drive":
            _drive(arg, line, ide_index)
        elif opt in ("-nic", "-net"):
            _nic(opt, arg, line)
        elif opt == "-vga":
            line.vga = arg
        elif opt in MACHINE_SUGAR:
            line.machine_options.append(f"{MACHINE_SUGAR[opt]}={arg.replace(',', ',,')}")
        elif opt in ("-serial", "-parallel"):
            line.skipped.append(f"{opt} {arg} (the port's backend)")
            if arg == "none":
                setattr(line, f"no_{opt[1:]}", True)
        elif opt in BACKEND:
            line.skipped.append(f"{opt} {arg}")
            if opt in NOTES:
                line.notes.append(f"{opt}: {NOTES[opt]}")
        else:
            raise UsageError(f"unknown option {opt}: not modelled (docs/inputs.md lists what "
                             "is)")
    return line
