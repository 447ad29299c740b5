"""``probe``: read a QEMU binary over QMP and return its release in the catalog format.

The binary runs paused with ``-nodefaults -display none -machine none -S -accel tcg`` (no
board, so nothing contaminates "default" values). What it reports:

- machine types from ``query-machines``: alias, default, deprecated; on QEMU >= 9.1 also
  each machine's compat list (``compat-props: true``, which QEMU marks *unstable*), split
  into per-version tables along the family's version chain;
- every QOM type from ``qom-list-types`` (abstract ones included) with its parent, and the
  interfaces it declares (``qom-list-types implements=``);
- device property kinds and static defaults (``device-list-properties``, see device_props).

Not reported over QMP, so absent from a probe: compat entries on QEMU < 9.1, the
``optional`` flag, realize-time rules, machine class fields, bit-vs-bool storage, device-
state schemas. A device type whose listing crashes QEMU is skipped with a warning (QEMU is
restarted). No QEMU process outlives the call, whatever happens (qemu/binary/qmp.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from migcompat.errors import QemuError, QmpCommandError
from migcompat.model.machines import version_key
from migcompat.qemu.binary.device_props import DeviceProps
from migcompat.qemu.binary.qmp import QemuProcess, find_qemu

if TYPE_CHECKING:
    pass

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages "types", "devices", "machines"."""

PROBE_ARGS = ("-nodefaults", "-display", "none", "-machine", "none", "-S", "-accel", "tcg")
_VERSIONED = re.compile(r"^(?P<family>.+)-(?P<version>\d+(?:\.\d+)+)$")
_BATCH = 64


class _Session:
    """A probing QEMU that is restarted if a command kills it."""

    def __init__(self, binary: str, env: dict[str, str] | None = None) -> None:
        self.binary = binary
        self.env = env
        self.proc: QemuProcess | None = None
        self.restarts = 0

    def __enter__(self) -> _Session:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.close()
            self.proc = None

    def start(self) -> QemuProcess:
        if self.proc is not None:
            self.proc.close()
        self.proc = QemuProcess([], binary=self.binary, env=self.env, base_args=PROBE_ARGS)
        self.proc.start()
        return self.proc

    def cmd(self, name: str, **args: Any) -> Any:
        assert self.proc is not None
        return self.proc.cmd(name, **args)

    def each(self, commands: Sequence[tuple[str, dict[str, Any]]],
             warnings: list[str]) -> list[Any]:
        """Pipelined; if QEMU dies, restart and redo one by one, skipping the killer."""
        assert self.proc is not None
        try:
            return self.proc.batch(commands)
        except QmpCommandError:
            raise
        except QemuError:
            self.start()
        out: list[Any] = []
        for name, args in commands:
            try:
                out.append(self.cmd(name, **args))
            except QmpCommandError as exc:
                out.append(exc)
            except QemuError as exc:
                warnings.append(f"{name} {args}: QEMU died ({exc.message}); skipped")
                self.restarts += 1
                self.start()
                out.append(exc)
        return out


def probe(binary: str | None = None, machines: Sequence[str] | None = None,
          progress: Progress | None = None,
          env: dict[str, str] | None = None) -> dict[str, Any]:
    """The binary's release as a catalog dict (format 1, ``origin = "probe"``).

    ``machines`` limits the machine types recorded (the default machine is always kept,
    as a release needs exactly one). ``env`` is QEMU's environment, e.g. LD_LIBRARY_PATH
    and QEMU_MODULE_DIR for a build unpacked into a private prefix.
    """
    path = find_qemu(binary)
    warnings: list[str] = []
    with _Session(path, env) as session:
        ver = session.cmd("query-version")
        major, minor, micro = (int(ver["qemu"][k]) for k in ("major", "minor", "micro"))
        package = str(ver.get("package", "")).strip()
        types = _types(session, warnings, progress)
        device_props, children, enums = _devices(session, types, warnings, progress)
        mach = _machines(session, (major, minor), machines, warnings, progress)
    for name, props in device_props.items():
        types[name]["properties"] = props
    for name, child in children.items():
        types[name]["child"] = child
    release: dict[str, Any] = {
        "format": 1, "id": f"{major}.{minor}", "product": "qemu",
        "version": f"{major}.{minor}.{micro}",
    }
    if package:
        release["debian_version"] = package.removeprefix("Debian ").strip()
    release.update({
        "description": f"probed from {path}" + (f" ({package})" if package else ""),
        "origin": "probe",
        "enums": enums,
        "types": types,
        **mach,
        "probe": {"binary": path, "qemu": f"{major}.{minor}.{micro}", "package": package,
                  "compat_props": (major, minor) >= (9, 1), "restarts": session.restarts,
                  "warnings": warnings},
    })
    return release


def _types(session: _Session, warnings: list[str],
           progress: Progress | None) -> dict[str, dict[str, Any]]:
    listed = session.cmd("qom-list-types", abstract=True)
    types: dict[str, dict[str, Any]] = {}
    for t in sorted(listed, key=lambda t: str(t["name"])):
        body: dict[str, Any] = {}
        if t.get("parent"):
            body["parent"] = t["parent"]
        body["interfaces"] = []
        body["abstract"] = bool(t.get("abstract", False))
        types[str(t["name"])] = body
    ifaces = [n for n in types if "interface" in _ancestors(types, n)[1:]]
    results = session.each([("qom-list-types", {"implements": i, "abstract": True})
                            for i in ifaces], warnings)
    for n, (iface, impl) in enumerate(zip(ifaces, results, strict=True)):
        if progress:
            progress("types", n + 1, len(ifaces))
        if not isinstance(impl, list):
            warnings.append(f"implementations of {iface}: {impl}")
            continue
        implementing = {str(t["name"]) for t in impl}
        for name in implementing:
            parent = types.get(name, {}).get("parent")
            if name != iface and name in types and parent not in implementing \
                    and "interface" not in _ancestors(types, name):
                types[name]["interfaces"].append(iface)
    for body in types.values():
        body["interfaces"].sort()
    return types


def _ancestors(types: dict[str, dict[str, Any]], name: str) -> list[str]:
    out: list[str] = []
    cur: str | None = name
    while cur is not None and cur not in out:
        out.append(cur)
        cur = types.get(cur, {}).get("parent")
    return out


def _devices(session: _Session, types: dict[str, dict[str, Any]], warnings: list[str],
             progress: Progress | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    devices = sorted(n for n in types if "device" in _ancestors(types, n))
    collector = DeviceProps({n: t.get("parent") for n, t in types.items()},
                            {n for n in devices if types[n]["abstract"]})
    for start in range(0, len(devices), _BATCH):
        chunk = devices[start:start + _BATCH]
        commands = [("qom-list-properties" if types[d]["abstract"] else
                     "device-list-properties", {"typename": d}) for d in chunk]
        for name, listing in zip(chunk, session.each(commands, warnings), strict=True):
            if isinstance(listing, list):
                collector.add(name, listing)
            elif not isinstance(listing, QemuError) or isinstance(listing, QmpCommandError):
                warnings.append(f"properties of {name}: {listing}")
        if progress:
            progress("devices", min(start + _BATCH, len(devices)), len(devices))
    children = collector.children(set(devices))
    props = collector.attribute(children)
    return props, children, dict(sorted(collector.enums.items()))


def _machines(session: _Session, version: tuple[int, int], wanted: Sequence[str] | None,
              warnings: list[str], progress: Progress | None) -> dict[str, Any]:
    compat = version >= (9, 1)
    listed = session.cmd("query-machines", **({"compat-props": True} if compat else {}))
    if wanted is not None:
        keep = set(wanted)
        listed = [m for m in listed if m["name"] in keep or m.get("is-default")]
    machines: dict[str, dict[str, Any]] = {}
    lists: dict[str, list[dict[str, str]]] = {}
    for m in sorted(listed, key=lambda m: str(m["name"])):
        name = str(m["name"])
        match = _VERSIONED.match(name)
        # Unversioned boards (isapc, microvm, none) are each a family of one, version 0.
        family, ver = (match["family"], match["version"]) if match else (name, "0")
        body: dict[str, Any] = {"family": family, "version": ver, "compat": []}
        if m.get("alias"):
            body["alias"] = m["alias"]
        if m.get("is-default"):
            body["default"] = True
        if m.get("deprecated"):
            body["deprecated"] = "deprecated (query-machines gives no reason)"
        machines[name] = body
        if compat:
            lists[name] = [{"driver": str(e["qom-type"]), "property": str(e["property"]),
                            "value": str(e["value"])} for e in m.get("compat-props", [])]
    tables: dict[str, dict[str, Any]] = {}
    families: dict[str, dict[str, Any]] = {}
    all_families = sorted({b["family"] for b in machines.values()})
    for done, family in enumerate(all_families, 1):
        members = sorted((n for n, b in machines.items() if b["family"] == family),
                         key=lambda n: version_key(machines[n]["version"]), reverse=True)
        families[family] = {"defaults": []}
        if not compat:
            continue
        previous: list[dict[str, str]] = []
        for i, name in enumerate(members):
            entries = lists[name]
            if entries[:len(previous)] != previous:
                warnings.append(f"{name}: its compat list does not extend the newer "
                                f"machine's; kept whole")
                previous = []
            own = entries[len(previous):]
            if i == 0 and own:
                tables[f"{family}-defaults"] = {"entries": own}
                families[family]["defaults"] = [f"{family}-defaults"]
            elif own:
                tables[name] = {"entries": own}
                machines[name]["compat"] = [name]
            previous = entries
        if progress:
            progress("machines", done, len(all_families))
    return {"compat_tables": tables, "families": families, "machines": machines}
