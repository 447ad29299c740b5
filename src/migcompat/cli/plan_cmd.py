"""``plan``: what every VM of an inventory needs before each step of an upgrade path.

The inventory is streamed (cli/inventory.py) and each VM's line written as it is read; the
plans are memoized twice, on the row's config as written (no parsing for a repeat) and on
the parsed config (analysis/plan.py), so a fleet's cost is its distinct configs'.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from migcompat.analysis.plan import IDENTITY_OPTIONS, ConfigPlan, Planner
from migcompat.catalog.load import find_release
from migcompat.cli.html_out import HtmlOutput, html_output
from migcompat.cli.inventory import Row, rows
from migcompat.cli.options import VMArgs, catalog_option, format_choice, html_option
from migcompat.cli.plan_out import Writer, writer_for
from migcompat.cli.vm_inputs import config_for, line_from
from migcompat.errors import EXIT_INCOMPATIBLE, MigcompatError, UsageError
from migcompat.model.cmdline import BACKEND, FLAGS
from migcompat.model.release import Release
from migcompat.model.vm import VMConfig

RAW_MEMO_LIMIT = 1 << 16  # rows as written; past it the parsed-config memo still holds
# A command line with none of these splits on white space as a shell would split it.
_SHELL = ("'", '"', "\\", "#", "$", "`")


def args_key(text: str) -> str:
    """A command line as the raw memo keys it: what a VM's own line holds that cannot
    change its plan left out, so a libvirt fleet's lines (each with its own -name, -uuid,
    disk paths and MAC addresses) share their key. Only when the line splits on white
    space: the options QEMU reads for the host alone (model/cmdline.py's BACKEND, skipped
    by the reader too) are dropped with their argument, and in -device and -drive the
    values of ``file=`` and of the IDENTITY_OPTIONS are blanked. Options are told from
    arguments as the reader tells them (an option not in FLAGS takes one). Any other line,
    or one the reader would refuse, is its own key."""
    if text.startswith(("@", "/proc/")) or ",," in text or any(c in text for c in _SHELL):
        return text
    words = text.split()
    kept: list[str] = []
    i, count = 0, len(words)
    while i < count:
        word = words[i]
        if word[:1] != "-" or word in FLAGS:
            kept.append(word)
            i += 1
            continue
        if i + 1 == count:
            return text  # an option without its argument: the reader says so
        arg = words[i + 1]
        i += 2
        if word in BACKEND:
            continue
        # IDENTITY_OPTIONS by name: a test holds them equal
        if (word == "-device" or word == "-drive") and "=" in arg and (
                "mac=" in arg or "file=" in arg or "serial=" in arg or "wwn=" in arg):
            arg = ",".join(_blank(o) for o in arg.split(","))
        kept += (word, arg)
    return " ".join(kept)


def _blank(option: str) -> str:
    key, sep, _ = option.partition("=")
    return f"{key}=" if sep and (key == "file" or key in IDENTITY_OPTIONS) else option


class FleetPlanner:
    """Rows to plans: the releases by id, the two memos, and the VM label of each plan."""

    def __init__(self, to: tuple[str, ...], from_: str | None, catalog: str | None) -> None:
        self.catalog = catalog
        self.releases: dict[str, Release] = {}
        self.from_ = from_
        if from_ is not None:
            self.release(from_, "--from")
        path = [self.release(r, "--to") for r in to]
        cat, _ = find_release(to[0], catalog)
        self.known = [self.release(r, "the catalog") for r in cat.release_ids()]
        self.planner = Planner(path, self.known)
        self.raw: dict[tuple[object, ...], ConfigPlan] = {}  # the row as written
        self.normalized: dict[tuple[object, ...], ConfigPlan] = {}  # by args_key
        self.labels: dict[int, str] = {}  # id(plan): the config, as people name it

    def release(self, release_id: str, where: str) -> Release:
        found = self.releases.get(release_id)
        if found is None:
            try:
                _, found = find_release(release_id, self.catalog)
            except UsageError as exc:
                raise UsageError(f"{where}: {exc}") from None
            self.releases[release_id] = found
        return found

    def plan(self, row: Row) -> ConfigPlan:
        release_id = row.release or self.from_
        exact = (release_id, row[3:])  # Row.key, inline: this runs once a row
        found = self.raw.get(exact)
        if found is not None:
            return found
        # written otherwise, the same VM: a fleet's lines that differ in names and paths
        key = (release_id, args_key(row.text)) if row.kind == "qemu-args" else exact
        found = self.normalized.get(key)
        if found is not None:
            self._keep(self.raw, exact, found)
            return found
        if release_id is None:
            raise UsageError(f"{row.where}: the inventory does not say the host's release of "
                             f"'{row.name}': give --from RELEASE")
        try:
            config = self._config(row, self.release(release_id, row.where))
            found = self.planner.plan(config)
        except UsageError as exc:
            text = str(exc)
            raise UsageError(text if text.startswith(row.where) else
                             f"{row.where}: {text}") from None
        except MigcompatError as exc:
            raise UsageError(f"{row.where}: {exc}") from None
        self._keep(self.normalized, key, found)
        self._keep(self.raw, exact, found)
        self.labels.setdefault(id(found), _label(config))
        return found

    @staticmethod
    def _keep(memo: dict[tuple[object, ...], ConfigPlan], key: tuple[object, ...],
              plan: ConfigPlan) -> None:
        # two memos: lines all written differently fill the first, not the second
        if len(memo) >= RAW_MEMO_LIMIT:
            memo.clear()
        memo[key] = plan

    def _config(self, row: Row, release: Release) -> VMConfig:
        if row.kind == "fields":
            vm = VMArgs(row.devices, row.globals, row.smp, row.mem)
            return config_for(release, row.machine, vm, None)
        return config_for(release, None, VMArgs(), line_from(row.kind, row.text, self.catalog))


def _label(config: VMConfig) -> str:
    drivers = ",".join(d.driver for d in config.devices) or "no devices"
    return f"{config.release.id}:{config.machine} {drivers}"


@contextmanager
def _destination(output: Path | None) -> Iterator[Callable[[str], object]]:
    """stdout, or a file that appears whole or not at all (migration/atomic.py)."""
    if output is None:
        yield sys.stdout.write
        sys.stdout.flush()
        return
    from migcompat.migration.atomic import AtomicFile  # only with --output

    try:
        target = AtomicFile(output)
    except OSError as exc:
        raise UsageError(f"{output}: {exc.strerror or exc}") from None
    text = io.TextIOWrapper(target.file, encoding="utf-8", newline="")
    try:
        yield text.write
        text.flush()
        target.commit()
    finally:
        target.discard()


@click.command(epilog="""\b
Examples:
  migcompat plan --catalog qemu docs/examples/plan/fleet.args --from 7.2 --to 10.0 --to 10.2
  migcompat plan --catalog qemu docs/examples/plan/fleet.jsonl --to 10.0 --to 10.2 \\
      --format json
  migcompat plan --catalog qemu docs/examples/plan/fleet.csv --to 10.0 --format csv
  migcompat plan --catalog qemu tests/data/libvirt --from 7.2 --to 10.0 --format jsonl
  migcompat plan --catalog qemu docs/examples/plan/fleet.args --from 7.2 --to 10.0 \\
      --to 10.2 --html /tmp/plan.html
""")
@click.argument("inventory", type=click.Path(path_type=Path), metavar="INVENTORY")
@click.option("--to", "to", multiple=True, required=True, metavar="RELEASE",
              help="The next release of the path. Repeatable, in order: "
                   "--to 10.0 --to 10.2 is 10.0, then 10.2.")
@click.option("--from", "from_", metavar="RELEASE", default=None,
              help="The hosts' release of every VM whose row does not say it.")
@click.option("--output", "-o", "output", metavar="FILE", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plan to FILE, whole or not at all (default: stdout).")
@catalog_option
@format_choice(type=click.Choice(["text", "json", "jsonl", "csv"]),
               help="Output format: text (a summary and one line a config), json (one "
                    "document), jsonl (one JSON line a VM), csv (one row a VM); docs/json.md.")
@html_option
def plan_command(inventory: Path, to: tuple[str, ...], from_: str | None, output: Path | None,
                 catalog: str | None, fmt: str, html_path: Path | None) -> None:
    """Plan the upgrade of every VM of INVENTORY along the path --from (or each VM's own
    release) -> --to -> --to ...: the verdict of each step both ways, the verified pins,
    the cold boot a missing machine type needs, and the machine type's removal horizon.

    INVENTORY is a directory of libvirt domain XMLs, a file of QEMU command lines (one a
    line, optionally RELEASE<TAB> or NAME<TAB>RELEASE<TAB> first), or *.jsonl / *.csv rows
    (name, release, and qemu_args, libvirt_xml, or machine + devices); docs/plan.md.

    Each VM gets one action: none (live-migrates both ways), pin (with verified pins),
    cold-boot (its machine type is missing on the path) or cannot-move. Exit 0, or 1 when
    a VM cannot move; 2 on bad input, naming the file and line.
    """
    page_out = click.get_current_context().with_resource(html_output(html_path))
    fleet = FleetPlanner(to, from_, catalog)
    inventory_rows = rows(inventory)
    with _destination(output) as write:
        out: Writer = writer_for(fmt, write, fleet.planner, fleet.labels)
        plan, emit = fleet.plan, out.vm
        for row in inventory_rows:
            emit(row, plan(row))
        if not out.seen:
            raise UsageError(f"{inventory}: no VM in the inventory")
        out.end()
    if page_out is not None:
        _write_report(page_out, out, fleet, inventory)
    if out.actions["cannot-move"]:
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


def _write_report(page_out: HtmlOutput, out: Writer, fleet: FleetPlanner,
                  inventory: Path) -> None:
    # imported here: only --html renders a page
    from migcompat.model.machines import version_key
    from migcompat.report.calendar_grid import calendar_section
    from migcompat.report.fleet import STYLE, PlannedConfig, configs_section, machines_section
    from migcompat.report.page import fleet_section, page

    configs = [PlannedConfig(p, out.count(cid), fleet.labels.get(id(p), p.machine),
                             tuple(out.names(cid))) for cid, p in out.plans.items()]
    machines = {c.plan.machine for c in configs}
    for c in configs:  # where the cold boots go
        if c.plan.cold_boot is not None:
            machines.update(m for m in (c.plan.cold_boot.min_machine,
                                        c.plan.cold_boot.target_machine) if m)
    path = " -> ".join(r.id for r in fleet.planner.path)
    hosts = sorted({c.plan.path[0] for c in configs} - {r.id for r in fleet.planner.path},
                   key=version_key)
    title = " -> ".join([", ".join(hosts), path] if hosts else [path])
    releases = {r.id: r for r in [*fleet.known, *fleet.releases.values()]}
    text = page(f"Upgrade plan: {title}", [
        fleet_section(out.actions, title="VMs by action",
                      note=f"{len(configs)} distinct configs, path to {path}"),
        machines_section(configs),
        configs_section(configs),
        calendar_section(list(releases.values()), machines=machines,
                         title="The fleet's machine types by release"),
    ], subtitle=f"{inventory}; generated by migcompat, works offline (docs/report.md).",
        style=STYLE, search="action, config, machine, pin, VM name")
    page_out.write(text)


plan_command.name = "plan"
COMMANDS = [plan_command]
