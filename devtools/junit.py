"""Reading the contract suite's JUnit report: one outcome per test, with its level (MUST/SHOULD)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    name: str
    module: str  # the JUnit classname, e.g. test_stock
    level: str  # MUST, SHOULD, or "-" for a test without one
    outcome: str  # passed, failed, skipped


def outcomes(report: Path) -> list[Outcome]:
    found = []
    for case in ET.parse(report).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        state = "passed"
        for child in case:
            if child.tag in {"failure", "error"}:
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        name = case.get("name", "")
        if name.startswith("[") and "] " in name:  # the contract suite's JUnit names lead with the level
            name = name.split("] ", 1)[1]
        found.append(Outcome(name, case.get("classname", ""), properties.get("level") or "-", state))
    return found
