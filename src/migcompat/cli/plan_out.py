"""``plan``'s output: one writer per format, fed one VM at a time (docs/json.md, "plan").

A VM's line is the row's own fields and its config plan's text, made once per distinct
config: writing a million lines costs string joins, not a million ``json.dumps`` of a plan.
Lines are buffered and written in blocks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

from migcompat.analysis.plan import ACTIONS, ConfigPlan, Planner
from migcompat.cli.inventory import Row
from migcompat.cli.output import JSON_SCHEMA

Write = Callable[[str], object]
BLOCK = 2000  # lines per write
NAMES_SHOWN = 3  # VM names a text line lists for its config
CSV_COLUMNS = ("name", "where", "release", "machine", "action", "verdict", "path", "pins",
               "min_machine", "target_machine", "deprecated", "removed", "advice")


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class Writer:
    """Counts VMs per config (the summary) and buffers what a subclass writes."""

    def __init__(self, write: Write, planner: Planner, labels: dict[int, str]) -> None:
        self.write, self.planner, self.labels = write, planner, labels
        # id(plan): [its id, its VMs, the first VM names]
        self.seen: dict[int, list[Any]] = {}
        self.plans: dict[str, ConfigPlan] = {}
        self.buffer: list[str] = []

    def vm(self, row: Row, plan: ConfigPlan) -> None:
        seen = self.seen.get(id(plan))
        new = seen is None
        if seen is None:
            cid = f"c{len(self.seen) + 1}"  # c1, c2 ... in the order first seen
            seen = self.seen[id(plan)] = [cid, 0, []]
            self.plans[cid] = plan
        seen[1] += 1
        if seen[1] <= NAMES_SHOWN:
            seen[2].append(row.name)
        line = self.line(row, plan, seen[0], new)
        if line:
            buffer = self.buffer
            buffer.append(line)
            if len(buffer) >= BLOCK:
                self.flush()

    def count(self, cid: str) -> int:
        return int(self.seen[id(self.plans[cid])][1])

    def names(self, cid: str) -> list[str]:
        return list(self.seen[id(self.plans[cid])][2])

    def line(self, row: Row, plan: ConfigPlan, cid: str, new: bool) -> str:
        return ""

    def flush(self) -> None:
        if self.buffer:
            self.write("".join(self.buffer))
            self.buffer.clear()

    @property
    def actions(self) -> dict[str, int]:
        """VMs by action, counted per config at the end rather than once a VM."""
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for plan in self.plans.values():
            counts[plan.action] += self.count_of(plan)
        return counts

    def count_of(self, plan: ConfigPlan) -> int:
        return int(self.seen[id(plan)][1])

    def summary(self) -> dict[str, Any]:
        actions = self.actions
        return {"vms": sum(actions.values()), "configs": len(self.plans),
                "checked": self.planner.checks, "by_action": actions}

    def end(self) -> None:
        self.flush()


class JsonlWriter(Writer):
    """One self-contained JSON object per VM: the row, then its config's whole plan."""

    def __init__(self, write: Write, planner: Planner, labels: dict[int, str]) -> None:
        super().__init__(write, planner, labels)
        self.tails: dict[str, str] = {}
        self.head = dumps({"schema": JSON_SCHEMA, "command": "plan"})[:-1]

    def line(self, row: Row, plan: ConfigPlan, cid: str, new: bool) -> str:
        if new:
            self.tails[cid] = dumps({"config": cid, **plan.to_json()})[1:]
        return (f'{self.head},"name":{encode_basestring(row.name)},'
                f'"where":{encode_basestring(row.where)},{self.tails[cid]}\n')


class JsonWriter(Writer):
    """One document: the VMs as they come (one a line), then the configs and the summary."""

    def __init__(self, write: Write, planner: Planner, labels: dict[int, str]) -> None:
        super().__init__(write, planner, labels)
        head = {"schema": JSON_SCHEMA, "command": "plan",
                "path": [r.id for r in planner.path]}
        self.write(dumps(head)[:-1] + ',"vms":[\n')
        self.first = True
        self.tails: dict[str, str] = {}

    def line(self, row: Row, plan: ConfigPlan, cid: str, new: bool) -> str:
        if new:
            self.tails[cid] = dumps({"config": cid, "release": plan.release,
                                     "action": plan.action})[1:]
        sep = "" if self.first else ",\n"
        self.first = False
        return f'{sep}{{"name":{dumps(row.name)},"where":{dumps(row.where)},{self.tails[cid]}'

    def end(self) -> None:
        self.flush()
        configs = [{"id": cid, "vms": self.count(cid), "label": self.labels.get(id(p), ""),
                    **p.to_json()} for cid, p in self.plans.items()]
        self.write("\n],\n" + f'"configs":{json.dumps(configs, indent=1)},\n'
                   + f'"summary":{dumps(self.summary())}}}\n')


def _csv_text(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _csv_field(text: str) -> str:
    """One field as the csv module's writer quotes it (minimal quoting), without a writer
    per VM."""
    if any(c in text for c in ',"\r\n') or text != text.strip(" "):
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvWriter(Writer):
    def __init__(self, write: Write, planner: Planner, labels: dict[int, str]) -> None:
        super().__init__(write, planner, labels)
        self.tails: dict[str, str] = {}
        self.write(_csv_text(list(CSV_COLUMNS)))

    def line(self, row: Row, plan: ConfigPlan, cid: str, new: bool) -> str:
        if new:
            cold, hz = plan.cold_boot, plan.horizon
            self.tails[cid] = _csv_text([
                plan.release, plan.machine, plan.action, plan.verdict, " -> ".join(plan.path),
                " ".join(plan.pin_args), cold.min_machine or "" if cold else "",
                cold.target_machine or "" if cold else "",
                hz.deprecated or "" if hz else "", hz.removed or "" if hz else "",
                "; ".join(plan.advice)])
        return f"{_csv_field(row.name)},{_csv_field(row.where)},{self.tails[cid]}"


class TextWriter(Writer):
    """The summary, then one line per distinct config, most VMs first."""

    def end(self) -> None:
        actions = self.actions
        total = sum(actions.values())
        path = " -> ".join(r.id for r in self.planner.path)
        lines = [f"plan to {path}: {total} VMs, {len(self.plans)} distinct configs",
                 *(f"  {action:<12}{actions[action]:>8}" for action in ACTIONS)]
        order = sorted(self.plans, key=lambda c: (ACTIONS.index(self.plans[c].action),
                                                  -self.count(c)))
        for cid in order:
            plan = self.plans[cid]
            names = ", ".join(self.names(cid)) + (", ..." if self.count(cid) > NAMES_SHOWN
                                                  else "")
            steps = "  ".join(f"{s.source}->{s.dest} {s.forward}/{s.back}"
                              for s in plan.steps)
            lines.append(f"{plan.action:<12}{self.count(cid):>6} VMs  "
                         f"{self.labels.get(id(plan), plan.machine)}  ({names})")
            if steps:
                lines.append(f"    steps (forward/back): {steps}")
            lines += [f"    {a}" for a in plan.advice]
        self.write("\n".join(lines) + "\n")


WRITERS: dict[str, type[Writer]] = {"text": TextWriter, "json": JsonWriter,
                                    "jsonl": JsonlWriter, "csv": CsvWriter}


def writer_for(fmt: str, write: Write, planner: Planner, labels: dict[int, str]) -> Writer:
    return WRITERS[fmt](write, planner, labels)
