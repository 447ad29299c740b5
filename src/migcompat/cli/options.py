"""Options shared by many commands, each defined once (the pip-tools habit), and the one way
from them to a VM configuration.

Every option that commands of two modules use is made here: ``catalog_option`` and
``format_option`` as they are, or through their factories (``catalog_choice``,
``format_choice``, ``explain_choice``, ``both_directions_choice``) where a command needs
another default or help; an option shared by the commands of one module is defined once at
the top of that module (``schema_option``, ``seed_option``, ``lock_option``). The
VM options (``--device``, ``--global``, ``--smp``, ``-m``) reach a command as one
:class:`VMArgs`; ``check`` adds the same four for each side (``--src-device`` ...).
``RELEASE:MACHINE`` is parsed by :func:`parse_side` alone, and :func:`vm_config` is the only
place a catalog release, a machine type and the VM options become a ``VMConfig``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

from migcompat.errors import UsageError

if TYPE_CHECKING:
    # The model is imported where a VM is built, not here: the stream commands use these
    # options too, and importing the model cost them a fifth of their start-up.
    from migcompat.model.cmdline import CommandLine
    from migcompat.model.release import Release
    from migcompat.model.vm import VMConfig

F = TypeVar("F", bound=Callable[..., Any])


def option_factory(*decls: str, **defaults: Any) -> Callable[..., Callable[[F], F]]:
    """A factory of one option: ``factory()`` as defined here, ``factory(help=...)`` for a
    command that needs other help (or another default)."""
    def make(**overrides: Any) -> Callable[[F], F]:
        return click.option(*decls, **{**defaults, **overrides})
    return make


CATALOG_HELP = "Bundled catalog name (tutorial, qemu) or a catalog/release file path."


def catalog_choice(default: str | None = None, help: str = CATALOG_HELP) -> Callable[[F], F]:
    """``--catalog``; with a ``default``, shown as the default instead of "the bundled
    catalog that has the release" (which only holds when there is none)."""
    if default is None:
        help += " Default: the bundled catalog that has the release."
    return click.option("--catalog", "catalog", metavar="NAME|PATH", default=default,
                        show_default=default is not None, help=help)


format_choice = option_factory(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output format. JSON is versioned (\"schema\": 1), see docs/json.md.")
catalog_option = catalog_choice()
format_option = format_choice()
# Each command says what it shows or checks the other way round: the help is its own.
explain_choice = option_factory("--explain", "explain", is_flag=True)
verbose_option = option_factory("--verbose", "-v", "verbose", is_flag=True,
                                help="List every note, and what the device state covered.")()
both_directions_choice = option_factory("--both-directions", "both_directions", is_flag=True)
fail_on_option = option_factory(
    "--fail-on", "fail_on", type=click.Choice(["breaking", "guest-visible"]),
    default="breaking", show_default=True,
    help="Exit 1 on findings of this category or worse: breaking (the migration does not "
         "load, or is refused), or also guest-visible (it loads, the guest sees other "
         "hardware).")()

# lint's threshold is a SARIF severity, not a verdict category (docs/lint.md).
severity_fail_on_option = option_factory(
    "--fail-on", "fail_on", type=click.Choice(["error", "warning", "note"]), default="warning",
    show_default=True, help="Exit 1 when a finding is this severe or more.")()
# diff and lint look at every type under every machine type; these narrow it.
type_glob_option = option_factory(
    "--type", "type_glob", default="*", show_default=True, metavar="GLOB",
    help="Only types that match (shell pattern).")()
show_all_choice = option_factory("--all", "show_all", is_flag=True)
# diff, and plan after it, write the same kind of page (cli/html_out.py, docs/report.md).
html_option = option_factory(
    "--html", "html_path", type=click.Path(path_type=Path), default=None,
    metavar="FILE", help="Also write an HTML report: one static page that needs no server "
                         "(docs/report.md).")()


@dataclass(frozen=True)
class VMArgs:
    """The VM options of one command line (or of one side of ``check``); None: not given."""

    devices: tuple[str, ...] = ()
    globals: tuple[str, ...] = ()
    smp: int | None = None
    mem: str | None = None
    objects: tuple[str, ...] = ()

    def then(self, side: VMArgs) -> VMArgs:
        """These options with one side's added: its devices and globals after these, its
        vCPUs and RAM size instead of these."""
        return VMArgs(self.devices + side.devices, self.globals + side.globals,
                      side.smp if side.smp is not None else self.smp,
                      side.mem if side.mem is not None else self.mem,
                      self.objects + side.objects)


@dataclass(frozen=True)
class _VMOption:
    """One VM option, once: its flags, parameter, click attributes, the VMArgs field it
    fills, its name after ``--src-``/``--dst-`` and what it is, in short."""

    decls: tuple[str, ...]
    name: str
    attrs: dict[str, Any]
    field: str
    side_flag: str
    short: str


_VM_OPTIONS = (
    _VMOption(("--device",), "devices",
              {"multiple": True, "metavar": "SPEC",
               "help": "A device, QEMU syntax: virtio-blk-pci,id=vb0,num-queues=2. Repeatable."},
              "devices", "device", "A device (QEMU syntax)"),
    _VMOption(("--global",), "globals_",
              {"multiple": True, "metavar": "D.P=V",
               "help": "A user global property, QEMU syntax: virtio-blk-device.num-queues=1. "
                       "Repeatable."},
              "globals", "global", "A user global (D.P=V)"),
    _VMOption(("--object",), "objects",
              {"multiple": True, "metavar": "SPEC",
               "help": "An object, QEMU syntax: memory-backend-ram,id=mb1,size=64M (for a "
                       "device's memdev=mb1). Repeatable."},
              "objects", "object", "An object (QEMU syntax)"),
    _VMOption(("--smp",), "smp", {"type": click.IntRange(1, 4096), "help": "Boot vCPUs."},
              "smp", "smp", "Boot vCPUs"),
    _VMOption(("-m", "--memory"), "mem",
              {"metavar": "SIZE", "help": "Guest RAM size (QEMU size syntax: 64M, 1G)."},
              "mem", "m", "Guest RAM size"),
)
DEFAULT_SMP = 1
DEFAULT_MEM = "128M"


@overload
def vm_options(func: F) -> F: ...
@overload
def vm_options(*, mem: bool = ..., scope: str = ...) -> Callable[[F], F]: ...


def vm_options(func: F | None = None, *, mem: bool = True, scope: str = "") -> Any:
    """Add ``--device``, ``--global``, ``--smp`` (and ``-m`` unless ``mem=False``); the
    command receives them as one ``vm: VMArgs`` with the defaults filled in. ``scope`` is
    added to each help text ("on both sides")."""
    def decorate(f: F) -> F:
        chosen = [o for o in _VM_OPTIONS if mem or o.field != "mem"]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # Not given stays None: a --qemu-args command line may say it; vm_config fills
            # in the defaults last.
            given = {o.field: kwargs.pop(o.name) for o in chosen}
            return f(*args, vm=VMArgs(**given), **kwargs)

        command: Any = wrapper
        for o in reversed(chosen):
            extra = {"default": None, "show_default": str(
                DEFAULT_SMP if o.field == "smp" else DEFAULT_MEM)} if o.field in (
                "smp", "mem") else {}
            help_text = o.attrs["help"] + (f" ({scope})" if scope else "")
            command = click.option(*o.decls, o.name,
                                   **{**o.attrs, **extra, "help": help_text})(command)
        return command  # type: ignore[no-any-return]
    return decorate(func) if func is not None else decorate


def side_options(func: F) -> F:
    """``--src-device``, ``--dst-device`` ... : the VM options of one side of ``check``,
    given to the command as ``src_vm`` and ``dst_vm`` (nothing given: ``VMArgs()``)."""
    sides = {"src": "the source", "dst": "the destination"}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for side in sides:
            values = {o.field: kwargs.pop(f"{side}_{o.side_flag}") for o in _VM_OPTIONS}
            kwargs[f"{side}_vm"] = VMArgs(**values)
        return func(*args, **kwargs)

    command: Any = wrapper
    for side, who in reversed(sides.items()):
        for o in reversed(_VM_OPTIONS):
            attrs = {**o.attrs, "default": () if o.attrs.get("multiple") else None,
                     "help": f"{o.short} on {who} only."}
            command = click.option(f"--{side}-{o.side_flag}", f"{side}_{o.side_flag}",
                                   **attrs)(command)
    return command  # type: ignore[no-any-return]


def split_side(text: str) -> tuple[str, str | None]:
    """``RELEASE[:MACHINE]``: the machine may come from a QEMU command line instead."""
    release, sep, machine = text.partition(":")
    if not release or (sep and not machine):
        raise UsageError(f"expected RELEASE:MACHINE, got '{text}'")
    return release, machine or None


def parse_side(text: str) -> tuple[str, str]:
    """``RELEASE:MACHINE`` (a machine may carry options after a comma in a later version)."""
    release, sep, machine = text.partition(":")
    if not sep or not release or not machine:
        raise UsageError(f"expected RELEASE:MACHINE, got '{text}'")
    return release, machine


def parse_mem(text: str) -> int:
    """``-m`` as QEMU reads it: MiB without a suffix; 0 means the default size (QEMU keeps
    that for backward compatibility); rounded up to 8 KiB, as QEMU rounds it."""
    if text.isdigit():
        size = int(text) << 20
    else:
        from migcompat.model.props import parse_size  # start-up: the model on use

        try:
            size = parse_size("m", text)
        except Exception as exc:
            raise UsageError(f"invalid memory size '{text}'") from exc
    if size == 0:
        return parse_mem(DEFAULT_MEM)
    return -(-size // 8192) * 8192


def vm_config(release: str | Release, machine: str | None, catalog: str | None,
              vm: VMArgs, line: CommandLine | None = None) -> VMConfig:
    """The VM ``vm`` describes, of ``release`` on ``machine``: a release id is found in
    ``catalog``; a release already loaded is used as it is (``matrix`` builds two VMs per
    machine type, and loading a real release takes a fifth of a second). With ``line`` (a
    QEMU command line, a libvirt domain or a running VM), what it says is added and its
    ``-machine`` names the machine when ``machine`` does not (cli/vm_inputs.py)."""
    if isinstance(release, str):
        from migcompat.catalog.load import find_release  # only commands that build a VM need it

        _, rel = find_release(release, catalog)
    else:
        rel = release
    from migcompat.cli.vm_inputs import config_for  # it builds on this module

    return config_for(rel, machine, vm, line)


def side_config(side: str, catalog: str | None, vm: VMArgs,
                line: CommandLine | None = None) -> VMConfig:
    """:func:`vm_config` for one ``RELEASE:MACHINE`` argument (``RELEASE`` alone when
    ``line`` names the machine)."""
    release, machine = parse_side(side) if line is None else split_side(side)
    return vm_config(release, machine, catalog, vm, line)


def vmstate_dump_options(func: F) -> F:
    """``--old-vmstate FILE --new-vmstate FILE``: each build's ``-dump-vmstate``, for
    ``diff`` and ``lint`` to compare the device-state schemas too (docs/lint-vmstate.md)."""
    for side in ("new", "old"):
        func = click.option(f"--{side}-vmstate", f"{side}_vmstate", metavar="FILE",
                            type=click.Path(exists=True, dir_okay=False), default=None,
                            help=f"The {side.upper()} build's -dump-vmstate (QEMU -M MACHINE "
                                 "-dump-vmstate FILE), to compare device state too.")(func)
    return func
