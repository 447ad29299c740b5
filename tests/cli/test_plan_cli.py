"""``migcompat plan``: the inventory formats, the four outputs, and bad input."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import pytest

from cli_run import run
from migcompat.cli.main import cli
from plan_fleet import inventory_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "plan"
PLAIN = "-machine pc-q35-7.2 -nodefaults -device virtio-net-pci,id=net0"
OLD = "-machine pc-i440fx-2.4 -nodefaults -device e1000,id=net0"
PINNED = "-machine pc-q35-7.2 -nodefaults -device pvpanic -device nec-usb-xhci,id=usb"
PATH = ("--catalog", "qemu", "--to", "10.0", "--to", "10.2")


def jsonl(tmp_path: Path, rows: list[dict[str, object]], name: str = "fleet.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def fleet(tmp_path: Path, count: int) -> Path:
    """``count`` VMs over three configs, in turn."""
    configs = [PLAIN, OLD, PINNED]
    return jsonl(tmp_path, [{"name": f"vm{n}", "release": "7.2",
                             "qemu_args": configs[n % 3]} for n in range(count)])


def test_jsonl_writes_one_line_per_vm_in_inventory_order(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run(capsys, "plan", fleet(tmp_path, 30), *PATH, "--format", "jsonl")
    assert result.code == 0, result.err
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert len(lines) == 30
    assert [x["name"] for x in lines] == [f"vm{n}" for n in range(30)]
    assert [x["action"] for x in lines[:3]] == ["none", "cold-boot", "pin"]
    assert all(x["schema"] == 1 and x["command"] == "plan" for x in lines)
    assert lines[1]["cold_boot"]["min_machine"] == "pc-i440fx-5.0"
    assert lines[2]["pin_args"] == ["-global", "pvpanic.events=3", "-global",
                                    "nec-usb-xhci.streams=off"]
    assert lines[0]["where"].endswith("fleet.jsonl:1")
    assert {x["config"] for x in lines} == {"c1", "c2", "c3"}


def test_json_is_one_document_with_the_summary(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    result = run(capsys, "plan", fleet(tmp_path, 9), *PATH, "--format", "json")
    doc = result.json()
    assert doc["schema"] == 1 and doc["path"] == ["10.0", "10.2"]
    assert len(doc["vms"]) == 9
    assert doc["summary"]["by_action"] == {"none": 3, "pin": 3, "cold-boot": 3,
                                           "cannot-move": 0}
    # three distinct configs; the cold boot's re-plan on pc-i440fx-7.2 is one more
    assert doc["summary"]["configs"] == 3
    assert doc["summary"]["checked"] == 4
    assert sorted(c["vms"] for c in doc["configs"]) == [3, 3, 3]


def test_csv_has_a_header_and_a_row_per_vm(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    result = run(capsys, "plan", fleet(tmp_path, 6), *PATH, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.out)))
    assert len(table) == 6
    assert list(table[0]) == ["name", "where", "release", "machine", "action", "verdict",
                              "path", "pins", "min_machine", "target_machine", "deprecated",
                              "removed", "advice"]
    old = table[1]
    assert (old["name"], old["action"], old["min_machine"], old["target_machine"]) == (
        "vm1", "cold-boot", "pc-i440fx-5.0", "pc-i440fx-7.2")
    assert table[2]["pins"] == "-global pvpanic.events=3 -global nec-usb-xhci.streams=off"


def test_text_groups_configs_with_counts(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    result = run(capsys, "plan", fleet(tmp_path, 7), *PATH)
    lines = result.out.splitlines()
    assert lines[0] == "plan to 10.0 -> 10.2: 7 VMs, 3 distinct configs"
    assert lines[1].split() == ["none", "3"] and lines[3].split() == ["cold-boot", "2"]
    assert any("pc-i440fx-2.4 is gone in 10.2: cold boot onto pc-i440fx-5.0" in x
               for x in lines)


def test_a_command_line_file_takes_from_for_lines_without_a_release(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "fleet.args"
    path.write_text(f"# a comment\n\nweb1\t7.2\t{PLAIN}\n{OLD}\n10.0\t{PLAIN}\n")
    result = run(capsys, "plan", path, *PATH, "--from", "7.2", "--format", "jsonl")
    assert result.code == 0, result.err
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert [(x["name"], x["release"], x["action"]) for x in lines] == [
        ("web1", "7.2", "none"), (f"{path}:4", "7.2", "cold-boot"),
        (f"{path}:5", "10.0", "none")]


def test_a_libvirt_directory_is_one_vm_per_domain(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ROOT / "tests" / "data" / "libvirt"
    result = run(capsys, "plan", folder, "--catalog", "qemu", "--from", "7.2", "--to", "10.0",
                 "--format", "jsonl")
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert sorted(x["name"] for x in lines) == sorted(p.stem for p in folder.glob("*.xml"))
    # each domain names its own machine type, kept as the host resolved it
    assert {x["name"]: x["machine"] for x in lines}["old-pc-52"] == "pc-i440fx-5.2"


def test_machine_and_devices_columns(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    path.write_text("name,release,machine,devices,globals,smp,mem\n"
                    "a,7.2,pc-q35-7.2,pvpanic nec-usb-xhci,,2,2G\n"
                    "b,7.2,pc-q35-7.2,pvpanic nec-usb-xhci,"
                    "pvpanic.events=7 nec-usb-xhci.streams=on,2,2G\n")
    result = run(capsys, "plan", path, "--catalog", "qemu", "--to", "10.0", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.out)))
    # b already runs 10.0's values on 7.2: nothing to pin, unlike a
    assert [(r["name"], r["action"]) for r in table] == [("a", "pin"), ("b", "none")]


def test_one_json_line_in_error_names_the_row_and_writes_no_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "fleet.jsonl"
    path.write_text(json.dumps({"name": "a", "release": "7.2", "qemu_args": PLAIN})
                    + "\n{not json\n")
    out = tmp_path / "plan.jsonl"
    result = run(capsys, "plan", path, *PATH, "--format", "jsonl", "-o", out)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"migcompat: error: {path}:2: not JSON")
    assert "Traceback" not in result.err
    assert not out.exists() and sorted(tmp_path.iterdir()) == [path]


def test_output_file_is_written_whole(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    out = tmp_path / "plan.jsonl"
    result = run(capsys, "plan", fleet(tmp_path, 4), *PATH, "--format", "jsonl", "-o", out)
    assert result.code == 0 and result.out == ""
    assert len(out.read_text().splitlines()) == 4


@pytest.mark.parametrize(("rows", "extra", "message"), [
    ([{"name": "a", "qemu_args": PLAIN}], (),
     "fleet.jsonl:1: the inventory does not say the host's release of 'a': give --from"),
    ([{"name": "a", "release": "7.9", "qemu_args": PLAIN}], (),
     "fleet.jsonl:1: unknown release '7.9'"),
    ([{"name": "a", "release": "7.2", "qemu_args": PLAIN, "color": "red"}], (),
     "fleet.jsonl:1: unknown column color"),
    ([{"name": "a", "release": "7.2", "qemu_args": PLAIN},
      {"name": "b", "release": "7.2", "qemu_args": "-machine pc-q35-7.2 -device nosuch"}], (),
     "fleet.jsonl:2: "),
    ([{"name": "a", "release": "7.2", "qemu_args": PLAIN, "machine": "pc-q35-7.2"}], (),
     "fleet.jsonl:1: give one of qemu_args, libvirt_xml or machine"),
    ([{"name": "a", "release": "7.2", "libvirt_xml": "missing.xml"}], (),
     "missing.xml"),
])
def test_bad_rows_are_one_line_naming_the_row(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: list[dict[str, object]],
        extra: tuple[str, ...], message: str) -> None:
    result = run(capsys, "plan", jsonl(tmp_path, rows), *PATH, "--format", "jsonl", *extra)
    assert result.code == 2, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_bad_inventories_and_releases(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert run(capsys, "plan", missing, *PATH).err.strip() == \
        f"migcompat: error: {missing}: no such file or directory"
    empty = tmp_path / "empty.args"
    empty.write_text("# nothing\n")
    assert "no VM in the inventory" in run(capsys, "plan", empty, *PATH, "--from", "7.2").err
    result = run(capsys, "plan", fleet(tmp_path, 1), "--catalog", "qemu", "--to", "11.9")
    assert result.code == 2 and "--to: unknown release '11.9'" in result.err
    bad_csv = tmp_path / "fleet.csv"
    bad_csv.write_text("name,release,qemu_args\na,7.2\n")
    result = run(capsys, "plan", bad_csv, *PATH)
    assert result.code == 2 and f"{bad_csv}:2: 2 fields, the header has 3" in result.err


def test_the_bundled_example_inventories_plan(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("fleet.args", "fleet.jsonl", "fleet.csv"):
        result = run(capsys, "plan", EXAMPLES / name, *PATH, "--from", "7.2",
                     "--format", "jsonl")
        assert result.code in (0, 1), (name, result.err)
        assert result.out.count("\n") >= 4, name


def test_the_walkthroughs_fleet_is_the_one_real_qemu_checks() -> None:
    # docs/plan.md walks through cluster.args; tests/qemu_migrations/test_plan_real.py
    # migrates each of its VMs on the real builds
    assert (EXAMPLES / "cluster.args").read_text() == inventory_text()


def test_html_report_is_written_whole_or_not_at_all(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    result = run(capsys, "plan", EXAMPLES / "cluster.args", *PATH, "--html", page)
    assert result.code == 1  # cluster.args has a VM that cannot move (nvme)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")
    assert "<h1>Upgrade plan: 7.2 -&gt; 10.0 -&gt; 10.2</h1>" in text
    assert text.count('<tr class="f cfg"') == 25
    # a bad row: exit 2, one line, and no page
    bad = jsonl(tmp_path, [{"name": "a", "release": "7.2", "qemu_args": PLAIN},
                           {"name": "b", "release": "7.9", "qemu_args": PLAIN}])
    other = tmp_path / "other.html"
    result = run(capsys, "plan", bad, *PATH, "--html", other)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert not other.exists() and not list(tmp_path.glob("*.part"))
    result = run(capsys, "plan", bad, *PATH, "--html", tmp_path)
    assert result.code == 2 and f"--html {tmp_path}: is a directory" in result.err
    result = run(capsys, "plan", bad, *PATH, "--html", tmp_path / "no" / "x.html")
    assert result.code == 2 and "No such file or directory" in result.err


def test_the_help_examples_run_from_the_repository(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    command = cli.get_command(None, "plan")  # type: ignore[arg-type]
    assert command is not None and command.epilog is not None
    text = command.epilog.split("Examples:", 1)[1].replace("\\\n", " ")
    lines = [shlex.split(x) for x in text.splitlines() if x.strip()]
    assert len(lines) >= 3
    for line in lines:
        result = run(capsys, *line[1:])
        assert result.code in (0, 1), (line, result.err)
        assert result.out, line


def test_csv_rows_with_qemu_args_in_any_column_order(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["qemu_args", "release", "name"])
        for n, args in enumerate([PLAIN, OLD, PINNED]):  # they hold commas: quoted
            out.writerow([args, "7.2", f'vm,"{n}"'])
    result = run(capsys, "plan", path, *PATH, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.out)))
    assert [(r["name"], r["action"]) for r in table] == [
        ('vm,"0"', "none"), ('vm,"1"', "cold-boot"), ('vm,"2"', "pin")]
    assert [r["where"] for r in table] == [f"{path}:{n}" for n in (2, 3, 4)]


LIBVIRTISH = ("-name guest={n},debug-threads=on -uuid {u} -machine pc-q35-7.2 -nodefaults "
              "-netdev tap,id=hostnet0 -drive file=/var/lib/{n}.qcow2,if=none,id=drive0 "
              "-device virtio-net-pci,netdev=hostnet0,id=net0,mac={m} "
              "-device virtio-blk-pci,drive=drive0,id=disk0,serial={n}")


def libvirtish(n: int, **extra: str) -> str:
    text = LIBVIRTISH.format(n=f"vm{n}", u=f"0000-{n:04d}", m=f"52:54:00:00:00:{n:02x}")
    return text + "".join(f" {k} {v}" for k, v in extra.items())


def test_what_is_a_vm_own_does_not_split_the_memo() -> None:
    from migcompat.analysis.plan import IDENTITY_OPTIONS
    from migcompat.cli.plan_cmd import args_key

    assert args_key(libvirtish(1)) == args_key(libvirtish(2))
    for option in (*IDENTITY_OPTIONS, "file"):
        assert args_key(f"-device e1000,{option}=1") == args_key(f"-device e1000,{option}=2")
    assert args_key("-device e1000,vectors=1") != args_key("-device e1000,vectors=2")
    # what the plan reads stays in the key
    assert args_key(libvirtish(1)) != args_key(libvirtish(1).replace("pc-q35-7.2", "q35"))
    assert args_key(libvirtish(1)) != args_key(libvirtish(1, **{"-global": "e1000.x=1"}))
    assert args_key(libvirtish(1)) != args_key(libvirtish(1).replace(
        "id=disk0", "id=disk0,num-queues=2"))
    # a line a shell would split otherwise, or an option without its argument: its own key
    quoted = libvirtish(1).replace("guest=vm1", "'guest=vm 1'")
    assert args_key(quoted) == quoted
    assert args_key("-machine q35 -name") == "-machine q35 -name"


def test_a_libvirt_fleet_with_its_own_macs_and_disks_plans_one_config(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = jsonl(tmp_path, [{"name": f"vm{n}", "release": "7.2", "qemu_args": libvirtish(n)}
                            for n in range(20)])
    doc = run(capsys, "plan", path, *PATH, "--format", "json").json()
    assert doc["summary"]["checked"] == 1 and doc["summary"]["vms"] == 20
    assert doc["summary"]["by_action"]["none"] == 20
