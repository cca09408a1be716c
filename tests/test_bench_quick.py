"""The benchmarks' smoke run: ``python -m bench --quick`` on both backends prints, for every benchmark
and backend, its comparison lines (the figures themselves are not checked: they are the machine's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_the_quick_bench_prints_every_ratio_on_both_backends(postgres_url: str, rabbitmq_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    env |= {"BENCH_POSTGRES_URL": postgres_url, "RECEIVER_ERP_AMQP_URL": rabbitmq_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--store", "both"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=540, check=False)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    ratio = r"\n  ratio \([^)]*\) = \d+\.\d\d"
    for backend in ("sqlite", "postgresql"):
        for title in (f"stock push of [\\d,]+ rows, {backend}", f"growth, {backend}: [\\d,]+ new rows",
                      f"S-360 batch of [\\d,]+ new products, {backend}", f"S-360 re-post .*, {backend}",
                      f"growth, {backend}: a batch", f"servicemobility, {backend}:", f"ERP backlog, {backend}:"):
            assert re.search(f"== {title}.*(\n  .*)*?{ratio}", out), f"no ratio line for {title!r}:\n{out}"
        assert re.search(r"memory: worker peak RSS \d+ MiB", out)
    for title in ("ServiceMobility InventoryUsage events", "S-360 batches of"):
        block = re.search(f"== scale-out, postgresql: {title}.*(\n  .*)*", out)
        assert block is not None, out
        assert "per instance" in block.group(0) and "exact" in block.group(0) and "WRONG" not in block.group(0)
    block = re.search(r"== scale-out, postgresql: ERP backlog .*, competing consumers.*(\n  .*)*", out)
    assert block is not None, out
    assert "two instances:" in block.group(0) and "every consumer given a share: True" in block.group(0)
