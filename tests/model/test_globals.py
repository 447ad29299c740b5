"""Applying globals in QEMU's order (reference §2.2-§2.4)."""

from __future__ import annotations

from typing import Any

import pytest

from builders import entry, make_release
from migcompat.errors import GlobalPropertyError, UsageError
from migcompat.model.devspec import parse_device
from migcompat.model.globals import parse_global
from migcompat.model.vm import VMConfig, realize_vm


def realize(rel: Any, *devices: str, globals_: tuple[str, ...] = (), smp: int = 1,
            machine: str = "pc-1.0") -> Any:
    return realize_vm(VMConfig(rel, machine, [parse_device(d) for d in devices], smp=smp,
                               globals=[parse_global(g) for g in globals_]))


def sources(eff: Any) -> list[tuple[str, Any]]:
    return [(layer.source, layer.value) for layer in eff.provenance]


def test_layers_in_order_each_later_wins() -> None:
    rel = make_release(tables={"t": {"entries": [entry("widget", "level", "2")]}})
    vm = realize(rel, "widget,id=w,level=4", globals_=("widget.level=3",))
    eff = vm.devices[0].view()["level"]
    assert sources(eff) == [("default", 1), ("compat", 2), ("global", 3), ("device", 4)]
    assert eff.value == 4
    vm = realize(rel, "widget,id=w", globals_=("widget.level=3",))
    assert vm.devices[0].value("level") == 3


def test_later_entry_wins_whatever_the_specificity() -> None:
    # An entry for the exact type, then a later one for an ancestor: the ancestor's wins.
    rel = make_release(tables={"t": {"entries": [
        entry("widget-pro", "x-bus", "off"), entry("bus-device", "x-bus", "on"),
        entry("widget-pro", "level", "7"), entry("widget", "level", "9")]}})
    dev = realize(rel, "widget-pro,id=w").devices[0]
    assert dev.value("x-bus") is True
    assert dev.value("level") == 9
    assert [layer.index for layer in dev.view()["level"].provenance[1:]] == [2, 3]


def test_user_globals_later_wins() -> None:
    rel = make_release()
    dev = realize(rel, "widget", globals_=("widget.level=3", "widget.level=2")).devices[0]
    assert dev.value("level") == 2


def test_interface_and_ancestor_matching() -> None:
    rel = make_release(tables={"t": {"entries": [
        entry("hotplug-iface", "mode", "on"), entry("device", "x-bus", "off")]}})
    dev = realize(rel, "widget-pro").devices[0]
    assert dev.value("mode") == "on"
    assert dev.value("x-bus") is False


def test_unknown_driver_never_matches() -> None:
    rel = make_release(tables={"t": {"entries": [entry("pl011", "migrate-clk", "off")]}})
    dev = realize(rel, "widget").devices[0]
    assert dev.value("level") == 1


def test_missing_property_is_an_error_unless_optional() -> None:
    rel = make_release(tables={"t": {"entries": [entry("device", "turbo", "on")]}})
    with pytest.raises(GlobalPropertyError) as exc:
        realize(rel, "widget")
    # QEMU names the object's own type in the message, not the entry's driver.
    assert str(exc.value) == ("can't apply global device.turbo=on: "
                              "Property 'widget.turbo' not found")
    rel = make_release(tables={"t": {"entries": [entry("device", "turbo", "on", True)]}})
    vm = realize(rel, "widget", "widget-pro")
    assert vm.devices[0].lookup("turbo") is None
    assert vm.devices[1].value("turbo") is True


def test_optional_entry_with_bad_value_still_fails() -> None:
    rel = make_release(tables={"t": {"entries": [entry("widget", "level", "x", True)]}})
    with pytest.raises(GlobalPropertyError,
                       match=r"^can't apply global widget.level=x: Parameter 'level' expects "
                             r"uint64$"):
        realize(rel, "widget")


def test_bad_user_global_value() -> None:
    rel = make_release()
    with pytest.raises(GlobalPropertyError,
                       match=r"can't apply global widget\.mode=ON: Parameter 'mode' does not "
                             r"accept value 'ON'"):
        realize(rel, "widget", globals_=("widget.mode=ON",))


def test_proxy_child_completed_before_proxy_layers() -> None:
    # Reference §2.3, verified on 7.2: -global virtio-blk-pci.num-queues=3
    # -global virtio-blk-device.num-queues=2 gives 3, whatever the order on the command line.
    rel = make_release()
    for order in (("proxy.queues=3", "backend.queues=2"), ("backend.queues=2", "proxy.queues=3")):
        vm = realize(rel, "proxy,id=p", globals_=order)
        proxy = vm.devices[0]
        eff = proxy.view()["queues"]
        assert eff.value == 3
        assert [(layer.source, layer.driver, layer.value) for layer in eff.provenance] == [
            ("default", "backend", 65535), ("global", "backend", 2), ("global", "proxy", 3)]
        assert proxy.child is not None and proxy.child.value("queues") == 3


def test_proxy_compat_for_child_type_and_realize() -> None:
    rel = make_release(tables={"t": {"entries": [entry("backend", "queues", "1")]}})
    proxy = realize(rel, "proxy,id=p", smp=4).devices[0]
    assert proxy.value("queues") == 1
    assert proxy.value("vectors") == 2
    proxy = realize(make_release(), "proxy,id=p", smp=40).devices[0]
    assert proxy.value("queues") == 16  # capped
    assert proxy.view()["queues"].decided_by.source == "realize"
    assert proxy.value("vectors") == 17


def test_device_option_beats_realize_sentinel() -> None:
    proxy = realize(make_release(), "proxy,id=p,queues=2", smp=8).devices[0]
    assert proxy.value("queues") == 2
    assert proxy.value("vectors") == 3


def test_child_appears_with_its_path() -> None:
    vm = realize(make_release(), "proxy,id=p")
    assert [o.path for o in vm.all_objects()] == ["p", "p/virtio-backend"]
    assert "queues" in vm.devices[0].aliases


def test_global_syntax() -> None:
    g = parse_global("virtio-blk-device.serial=a,b=c")
    assert (g.driver, g.property, g.value) == ("virtio-blk-device", "serial", "a,b=c")
    g = parse_global("driver=d,property=p,value=v")
    assert (g.driver, g.property, g.value) == ("d", "p", "v")
    for bad in ("nodot=1", "d.p", "driver=d,property=p"):
        with pytest.raises(UsageError):
            parse_global(bad)


def test_device_spec_syntax() -> None:
    spec = parse_device("virtio-blk-pci,id=vb0,serial=a,,b,num-queues=2")
    assert spec.driver == "virtio-blk-pci" and spec.id == "vb0"
    assert spec.options == (("serial", "a,b"), ("num-queues", "2"))
    with pytest.raises(UsageError):
        parse_device("virtio-blk-pci,noequals")
