"""QEMU's string rules for property values (reference §5.3); wording checked on QEMU 7.2."""

from __future__ import annotations

import pytest

from migcompat.errors import PropertyValueError
from migcompat.model.props import normalise, parse_value


@pytest.mark.parametrize("text,value", [
    ("on", True), ("yes", True), ("true", True), ("y", True),
    ("off", False), ("no", False), ("false", False), ("n", False),
])
def test_bool_accepts_exact_words(text: str, value: bool) -> None:
    for kind in ("bool", "bit", "bit64"):
        assert parse_value(kind, "p", text) is value


@pytest.mark.parametrize("text", ["1", "0", "ON", "True", "Yes", "", " on", "enable"])
def test_bool_rejects_other_spellings(text: str) -> None:
    with pytest.raises(PropertyValueError) as exc:
        parse_value("bool", "request-merging", text)
    assert str(exc.value) == "Parameter 'request-merging' expects 'on' or 'off'"


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("10", 10), ("0x10", 16), ("0X1f", 31), ("010", 8), ("00", 0), ("65535", 65535),
])
def test_uint_c_base0(text: str, value: int) -> None:
    assert parse_value("uint16", "num-queues", text) == value


def test_uint_range_and_garbage_wording() -> None:
    # Both messages seen on real QEMU 7.2 with -global virtio-blk-device.num-queues=...
    with pytest.raises(PropertyValueError, match=r"^Parameter 'num-queues' expects uint16_t$"):
        parse_value("uint16", "num-queues", "65536")
    with pytest.raises(PropertyValueError, match=r"^Parameter 'num-queues' expects uint16_t$"):
        parse_value("uint16", "num-queues", "-1")
    for bad in ("ON", "zz", "08", "1.5", "0x", "1k", ""):
        with pytest.raises(PropertyValueError, match=r"expects uint64$"):
            parse_value("uint16", "num-queues", bad)


def test_uint64_minus_wraps_like_strtoull() -> None:
    assert parse_value("uint64", "p", "-1") == (1 << 64) - 1
    assert parse_value("uint8", "p", "255") == 255
    with pytest.raises(PropertyValueError, match="expects uint8_t"):
        parse_value("uint8", "p", "256")
    with pytest.raises(PropertyValueError, match="expects uint32_t"):
        parse_value("uint32", "p", "0x100000000")


def test_signed_ints() -> None:
    assert parse_value("int32", "p", "-5") == -5
    assert parse_value("int32", "p", "-0x10") == -16
    assert parse_value("int64", "p", "017") == 15
    with pytest.raises(PropertyValueError, match="expects int32_t"):
        parse_value("int32", "p", "2147483648")
    with pytest.raises(PropertyValueError, match="expects int64"):
        parse_value("int32", "p", "x")


@pytest.mark.parametrize("text,value", [
    ("64M", 64 << 20), ("64m", 64 << 20), ("1K", 1024), ("1k", 1024), ("4096B", 4096),
    ("4096", 4096), ("0x1000", 4096), ("1.5k", 1536), ("08", 8), ("1G", 1 << 30),
    ("0x1b", 27), ("2E", 2 << 60), (".5M", 512 << 10),
])
def test_size_suffixes_and_fractions(text: str, value: int) -> None:
    assert parse_value("size", "discard_granularity", text) == value


@pytest.mark.parametrize("text", ["0x20M", "1.5", "1.5B", "-1", "1e3", "", "k", "16E", "1 M"])
def test_size_rejections(text: str) -> None:
    with pytest.raises(PropertyValueError) as exc:
        parse_value("size", "discard_granularity", text)
    assert str(exc.value).startswith(
        "Parameter 'discard_granularity' expects a non-negative number below 2^64")
    assert "Optional suffix k, M, G, T, P or E" in str(exc.value)


def test_size32_range() -> None:
    assert parse_value("size32", "p", "1G") == 1 << 30
    with pytest.raises(PropertyValueError, match=r"doesn't take value 5368709120"):
        parse_value("size32", "p", "5G")


def test_enum_and_onoffauto_exact_names() -> None:
    assert parse_value("OnOffAuto", "disable-legacy", "auto") == "auto"
    with pytest.raises(PropertyValueError,
                       match=r"^Parameter 'disable-legacy' does not accept value 'Auto'$"):
        parse_value("OnOffAuto", "disable-legacy", "Auto")
    values = ("discard", "delay", "slew")
    assert parse_value("enum", "lost_tick_policy", "slew", values) == "slew"
    for bad in ("Delay", "merge"):
        with pytest.raises(PropertyValueError, match="does not accept value"):
            parse_value("enum", "lost_tick_policy", bad, values)


def test_str_verbatim_and_normalise() -> None:
    assert parse_value("str", "serial", " a,b ") == " a,b "
    assert normalise("bool", "true") is True
    assert normalise("uint32", "0x10") == 16
