"""Read realized devices' properties from QEMU (``qom-list``/``qom-get``) and compare them
with the model's effective values.

Which properties are compared: every readable value property of the device object and of its
virtio backend child, except links and children, run-state flags and values the environment
assigns at realize (a PCI slot, a MAC address, a USB port, a ROM file's size). Spellings are
normalised (``on``/``true``, ``0x10``/``16``, an unset string is ``""``), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from migcompat.errors import PropertyValueError, QmpCommandError
from migcompat.model.props import BOOL_KINDS, parse_value
from migcompat.model.vm import VM, DeviceObject, Effective
from migcompat.qemu.binary.qmp import QemuProcess

PERIPHERAL = "/machine/peripheral"
CHILD = "virtio-backend"

@dataclass(frozen=True)
class Exclusion:
    """A property never compared (``unset`` None), or not compared while the model holds one
    of the ``unset`` values that realize replaces from the environment; ``types`` limits it
    to objects that are one of those types."""

    prop: str
    reason: str
    unset: tuple[object, ...] | None = None
    types: tuple[str, ...] = ()


_GEOMETRY = "realize guesses the disk geometry from the backend's size"
_IDE = ("ide-device",)
EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion("type", "the QOM type name, not a setting"),
    Exclusion("realized", "run state"),
    Exclusion("hotplugged", "run state"),
    Exclusion("hotpluggable", "run state (the bus decides)"),
    Exclusion("parent_bus", "the bus the device sits on"),
    Exclusion("addr", "PCI slot assigned by the bus", (-1,)),
    Exclusion("legacy-addr", "PCI slot assigned by the bus (legacy text form)"),
    Exclusion("guest-stats", "a runtime statistics report, not a setting"),
    Exclusion("romsize", "realize takes the size of the ROM file found on the host",
              (0xFFFFFFFF,)),
    Exclusion("sas_address", "megasas derives it from the PCI slot at realize", (0,)),
    Exclusion("cyls", _GEOMETRY, (0,)),
    Exclusion("heads", _GEOMETRY, (0,)),
    Exclusion("secs", _GEOMETRY, (0,)),
    Exclusion("bios-chs-trans", _GEOMETRY, ("auto",)),
    Exclusion("serial", "IDE numbers drives QM%05d from a global counter when unset",
              (None,), _IDE),
    Exclusion("osk", "realize points it at a built-in 64-byte key with no final NUL: QOM "
              "reads past it", (None,), ("isa-applesmc",)),
    Exclusion("virgl", "realize turns it off without an OpenGL display (the host's)", (True,),
              ("virtio-gpu-base",)),
    Exclusion("reserved-regions", "the x86 board's pre-plug hook adds the MSI window "
              "(virtio-iommu)", (None, ())),
    Exclusion("len-reserved-regions", "the x86 board's pre-plug hook adds the MSI window "
              "(virtio-iommu)", (0, None)),
)
_BY_NAME: dict[str, list[Exclusion]] = {}
for _ex in EXCLUSIONS:
    _BY_NAME.setdefault(_ex.prop, []).append(_ex)

IsA = Callable[[str, str], bool]


@dataclass(frozen=True)
class Observed:
    """One property as QEMU reports it: its QOM type and value, or why it is unreadable."""

    qom_type: str
    value: Any = None
    error: str = ""


@dataclass
class Comparison:
    machine: str
    path: str  # model path: "vb0" or "vb0/virtio-backend"
    prop: str
    status: str  # agree | differ | missing-in-model | missing-in-qemu
    qemu: Any = None
    model: Any = None
    kind: str = ""
    qom_type: str = ""
    cause: str = ""
    provenance: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.status == "agree"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device": self.path, "property": self.prop,
                               "status": self.status, "qemu": self.qemu,
                               "model": self.model, "kind": self.kind,
                               "qom_type": self.qom_type, "cause": self.cause}
        if self.provenance:
            out["provenance"] = self.provenance
        return out


def observe(proc: QemuProcess, ids: list[str],
            children: Collection[str] = (CHILD,)) -> dict[str, dict[str, Observed]]:
    """``{model path: {property: Observed}}`` for each device id and the children of it
    named in ``children`` that exist (a virtio proxy's backend, an xhci core...)."""
    out: dict[str, dict[str, Observed]] = {}
    paths: list[tuple[str, str, bool]] = []
    for dev_id in ids:
        paths.append((dev_id, f"{PERIPHERAL}/{dev_id}", False))
        paths += [(f"{dev_id}/{c}", f"{PERIPHERAL}/{dev_id}/{c}", True) for c in children]
    listings = proc.batch([("qom-list", {"path": qom}) for _, qom, _ in paths])
    for (path, qom, is_child), listing in zip(paths, listings, strict=True):
        if isinstance(listing, QmpCommandError):
            if is_child:
                continue  # the device has no such child
            raise listing
        props = [p for p in listing
                 if not str(p["type"]).startswith(("link<", "child<"))]
        values = proc.batch([("qom-get", {"path": qom, "property": p["name"]})
                             for p in props])
        out[path] = {
            p["name"]: (Observed(p["type"], error=v.desc) if isinstance(v, QmpCommandError)
                        else Observed(p["type"], v))
            for p, v in zip(props, values, strict=True)
        }
    return out


def model_objects(vm: VM) -> dict[str, dict[str, Effective]]:
    """The model's view of every object: a proxy shows its child's aliased properties."""
    return {obj.path: obj.view() for obj in vm.all_objects()}


def same_value(model: Any, kind: str, qemu: Any) -> bool:
    """Equal up to spelling: typed vs text, on/true, 0x10/16, unset string vs ""."""
    if model == qemu and type(model) is type(qemu):
        return True
    if isinstance(model, tuple) and isinstance(qemu, list):  # list properties (>= 8.2)
        return len(model) == len(qemu) and all(
            same_value(m, "str", q) for m, q in zip(model, qemu, strict=True))
    if model is None:
        return qemu in ("", None, [])  # unset string/list properties read as "" and []
    if isinstance(qemu, bool):
        text = model if isinstance(model, str) else None
        if text is None:
            return False
        try:
            return parse_value("bool", "v", text) is qemu
        except PropertyValueError:
            return False
    if isinstance(qemu, int):
        if isinstance(model, bool):
            return False
        if isinstance(model, int):
            return model == qemu
        if isinstance(model, str):
            for k in ("uint64", "int64", "size"):
                try:
                    if parse_value(k, "v", model) == qemu:
                        return True
                except PropertyValueError:
                    continue
        return False
    if isinstance(qemu, str):
        if isinstance(model, bool):
            return qemu in (("on", "true", "yes", "y") if model else ("off", "false", "no", "n"))
        if isinstance(model, int):
            return qemu == str(model)
    return False


def excluded(name: str, eff: Effective | None, is_a: IsA) -> str:
    owner = eff.provenance[0].driver if eff is not None else ""
    for ex in _BY_NAME.get(name, ()):
        if ex.types and not (owner and any(is_a(owner, t) for t in ex.types)):
            continue
        if ex.unset is None:
            return ex.reason
        if eff is not None and any(eff.value is u or (eff.value == u and not isinstance(
                eff.value, bool) and not isinstance(u, bool)) for u in ex.unset):
            return f"{ex.reason} (the model has the unset value {eff.value})"
    if name.endswith("]") and "[" in name:
        return "an array element (the model keeps an array property as its length)"
    return ""


def _model_value(eff: Effective) -> Any:
    if eff.value is None and eff.prop.kind in BOOL_KINDS:
        return None
    return eff.value


def _cause(eff: Effective) -> str:
    last = eff.decided_by
    if last.detail.startswith("unresolved"):
        return f"the catalog's default is {last.detail}"
    where = {"default": "the class default", "compat": f"compat {last.table}[{last.index}]",
             "realize": f"a realize rule ({last.detail})", "device": "the device option",
             "global": "a global", "sugar": "a sugar property"}.get(last.source, last.source)
    return f"the model's value comes from {where}"



def compare_machine(machine: str, observed: Mapping[str, Mapping[str, Observed]],
                    predicted: Mapping[str, Mapping[str, Effective]],
                    skipped: dict[str, str], is_a: IsA) -> list[Comparison]:
    """Compare every property of every object; fills ``skipped`` ("path.prop" -> reason)."""
    out: list[Comparison] = []
    for path in sorted(set(observed) | set(predicted)):
        seen = observed.get(path, {})
        model = predicted.get(path, {})
        if path not in observed or path not in predicted:  # (a type may have no properties)
            where = "QEMU" if path not in observed else "the model"
            out.append(Comparison(machine, path, "*", "missing-in-model"
                                  if path not in predicted else "missing-in-qemu",
                                  cause=f"object absent in {where}"))
            continue
        for name in sorted(set(seen) | set(model)):
            eff = model.get(name)
            why = excluded(name, eff, is_a)
            obs = seen.get(name)
            if not why and obs is not None and obs.error:
                why = f"not readable: {obs.error}"
            if not why and eff is not None and eff.prop.kind == "link":
                why = "a link"
            if why:
                skipped.setdefault(f"{path}.{name}", why)
                continue
            out.append(_compare_one(machine, path, name, obs, eff))
    return out


def _compare_one(machine: str, path: str, name: str, obs: Observed | None,
                 eff: Effective | None) -> Comparison:
    if eff is None:
        assert obs is not None
        return Comparison(machine, path, name, "missing-in-model", qemu=obs.value,
                          qom_type=obs.qom_type,
                          cause="QEMU has the property; the catalog's type does not")
    prov = [layer.to_json() for layer in eff.provenance]
    if obs is None:
        return Comparison(machine, path, name, "missing-in-qemu", model=eff.value,
                          kind=eff.prop.kind, provenance=prov,
                          cause="the catalog's type has the property; QEMU does not")
    value = _model_value(eff)
    if same_value(value, eff.prop.kind, obs.value):
        return Comparison(machine, path, name, "agree", qemu=obs.value, model=value,
                          kind=eff.prop.kind, qom_type=obs.qom_type)
    return Comparison(machine, path, name, "differ", qemu=obs.value, model=value,
                      kind=eff.prop.kind, qom_type=obs.qom_type, provenance=prov,
                      cause=_cause(eff))


def device_ids(objects: list[DeviceObject]) -> list[str]:
    return [obj.id for obj in objects if obj.id]
