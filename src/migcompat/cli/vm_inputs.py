"""The VM as operators hold it: a QEMU command line (``--qemu-args``: a string a shell
would split, ``@FILE`` for a file holding one, or a ``/proc/PID/cmdline``, NUL-separated),
a libvirt domain XML (``--libvirt-xml``, model/libvirt.py) or a running VM
(``--qmp``, qemu/binary/running.py). Each becomes a command line that adds to the VM options
(model/cmdline.py reads it) and names the machine type when the side does not (``7.2``
instead of ``7.2:pc-q35-7.2``).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from migcompat.cli.options import DEFAULT_MEM, DEFAULT_SMP, VMArgs, parse_mem
from migcompat.cli.output import warn
from migcompat.errors import UsageError

if TYPE_CHECKING:
    # The model is imported when a VM is read or built: `validate` and `analyze` take
    # these options too, and most of their runs give none (start-up, docs/analyze.md).
    from migcompat.model.cmdline import CommandLine
    from migcompat.model.release import Release
    from migcompat.model.vm import VMConfig

F = TypeVar("F", bound=Callable[..., Any])
SIDES = {"": "both sides", "src": "the source only", "dst": "the destination only"}


def read_args(text: str) -> list[str]:
    """The argument list ``text`` stands for (see the module docstring); a QEMU program
    name first is dropped."""
    path = Path(text[1:]) if text.startswith("@") else Path(text)
    if text.startswith("@") or (text.startswith("/proc/") and text.endswith("/cmdline")):
        raw = _read(path)
        if b"\0" in raw:  # /proc/PID/cmdline: the arguments as the process got them
            args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        else:
            args = _split(raw.decode(errors="replace"), str(path))
    else:
        args = _split(text, "--qemu-args")
    # `virsh domxml-to-native` puts the environment first: LC_ALL=C PATH=... qemu-system-...
    while args and "=" in args[0] and not args[0].startswith("-"):
        args = args[1:]
    if args and Path(args[0]).name.startswith(("qemu-system", "qemu-kvm", "kvm")):
        args = args[1:]
    return args


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _split(text: str, where: str) -> list[str]:
    lines = [ln.rstrip("\\") for ln in text.splitlines()]  # shell line continuations
    try:
        return shlex.split(" ".join(lines), comments=True)
    except ValueError as exc:
        raise UsageError(f"{where}: cannot split as a shell would: {exc}") from None


INPUTS = {
    "qemu-args": ("ARGS|@FILE", "A QEMU command line for {}: a string split as a shell would, "
                  "@FILE, or /proc/PID/cmdline."),
    "libvirt-xml": ("FILE", "A libvirt domain XML (`virsh dumpxml`) for {}."),
    "qmp": ("unix:PATH|tcp:HOST:PORT", "A running VM's QMP socket, read as the VM for {}."),
}


def _flag(side: str, kind: str) -> str:
    return f"--{side + '-' if side else ''}{kind}"


def line_from(kind: str, text: str, catalog: str | None) -> CommandLine:
    """The command line an input of ``kind`` (an INPUTS key) stands for."""
    from migcompat.model.cmdline import parse_command_line  # start-up: the model on use

    if kind == "qemu-args":
        return parse_command_line(read_args(text))
    if kind == "libvirt-xml":
        from migcompat.model.libvirt import domain_args  # defusedxml: only when asked
        return parse_command_line(domain_args(_read(Path(text)), text))
    # qemu.qmp and the catalog: only for a running VM
    from migcompat.catalog.load import find_release  # a running VM only
    from migcompat.qemu.binary.running import read_running_vm  # a running VM only
    running = read_running_vm(text)
    try:  # compared with the model of the release it runs, so compat values stay unset
        _, release = find_release(running.version, catalog)
    except UsageError:
        warn(f"{text}: QEMU {running.version} is not in the catalog: its properties are "
             "taken against QEMU's class defaults")
        return running.line_for(None)
    return running.line_for(release)


def qemu_args_options(sides: bool = False) -> Callable[[F], F]:
    """``--qemu-args``, ``--libvirt-xml`` and ``--qmp`` (and with ``sides``, their
    ``--src-`` and ``--dst-`` forms), given to the command as ``qemu`` (and ``src_qemu``,
    ``dst_qemu``): the parsed :class:`CommandLine` of the one given, or None."""
    names = ["", "src", "dst"] if sides else [""]

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for side in names:
                key = f"{side + '_' if side else ''}qemu"
                given = {kind: kwargs.pop(f"{key}_{kind.replace('-', '_')}")
                         for kind in INPUTS}
                given = {k: v for k, v in given.items() if v is not None}
                if len(given) > 1:
                    raise UsageError(f"give one of {', '.join(_flag(side, k) for k in given)}")
                kwargs[key] = next((line_from(k, v, kwargs.get("catalog"))
                                    for k, v in given.items()), None)
            return func(*args, **kwargs)

        command: Any = wrapper
        for side in reversed(names):
            for kind, (metavar, help_text) in reversed(INPUTS.items()):
                dest = f"{side + '_' if side else ''}qemu_{kind.replace('-', '_')}"
                command = click.option(_flag(side, kind), dest, metavar=metavar, default=None,
                                       help=help_text.format(SIDES[side]))(command)
        return command  # type: ignore[no-any-return]
    return decorate


def merged(*lines: CommandLine | None) -> CommandLine | None:
    """The shared command line with one side's after it (its options win)."""
    given = [line for line in lines if line is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    from migcompat.model.cmdline import CommandLine  # start-up: the model on use

    a, b = given
    return CommandLine(
        machine=b.machine or a.machine, smp=b.smp or a.smp, mem=b.mem or a.mem,
        devices=a.devices + b.devices, drive_devices=a.drive_devices + b.drive_devices,
        nics=a.nics + b.nics, nics_off=a.nics_off or b.nics_off,
        globals=a.globals + b.globals, objects=a.objects + b.objects,
        machine_options=a.machine_options + b.machine_options,
        defaults=a.defaults and b.defaults, vga=b.vga or a.vga,
        no_serial=a.no_serial or b.no_serial, no_parallel=a.no_parallel or b.no_parallel,
        skipped=a.skipped + b.skipped, notes=a.notes + b.notes)


def say_skipped(*lines: CommandLine | None) -> None:
    """One line for what each command line gave that is the host's alone, and its notes."""
    for line in lines:
        if line is None:
            continue
        if line.skipped:
            names = sorted({item.split(" ", 1)[0] for item in line.skipped})
            warn(f"not compared (the host's side): {', '.join(names)}")
        for note in dict.fromkeys(line.notes):
            warn(note)


def config_for(release: Release, machine: str | None, vm: VMArgs,
               line: CommandLine | None) -> VMConfig:
    """The VM of ``release``: the options ``vm`` gives and what ``line`` adds. The machine
    is the side's, else the command line's ``-machine``."""
    # Start-up: the model is imported when a VM is built (module docstring of options.py).
    from migcompat.model.devspec import parse_device
    from migcompat.model.globals import parse_global
    from migcompat.model.machine_options import parse_machine
    from migcompat.model.objects import parse_object
    from migcompat.model.vm import VMConfig

    machine = machine or (line.machine if line is not None else None)
    if machine is None:
        raise UsageError("no machine type: name one (MACHINE, or RELEASE:MACHINE) or give "
                         "a QEMU command line, libvirt XML or running VM that has one")
    name, options = parse_machine(machine)
    devices, globals_, objects = list(vm.devices), list(vm.globals), list(vm.objects)
    smp, mem = vm.smp, vm.mem
    if line is not None:
        if machine != line.machine and line.machine is not None:
            options = options + parse_machine(line.machine)[1]
        family = release.machines.resolve(name, release.id).family
        options += tuple(o.partition("=")[::2] for o in line.machine_options)
        devices = line.all_devices(family) + devices
        globals_ = line.globals + globals_
        objects = line.objects + objects
        smp = smp or line.smp
        mem = mem or line.mem
    return VMConfig(release, name, [parse_device(d) for d in devices],
                    smp=smp or DEFAULT_SMP, mem=parse_mem(mem or DEFAULT_MEM),
                    globals=[parse_global(g) for g in globals_],
                    objects=[parse_object(o) for o in objects], machine_options=options)
