"""``inventory-receiver consume`` with a SIGKILL injected at one point of its first batch: the fault
tests run this module (``python -m tests.erp_fault_consumer kill-before-commit``), configured from the
environment like the real command. The hook is the test's; the consumer's configuration has none."""

from __future__ import annotations

import logging
import os
import signal
import sys

from inventory_push_kit.receiver import amqp, storage
from inventory_push_kit.receiver.config import load_config


def _kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(fault: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(None, os.environ)
    store = storage.Store.from_config(config.storage)
    hooks = {"kill-before-commit": {"before_commit": _kill_now}, "kill-after-commit": {"after_commit": _kill_now}}
    return amqp.consume(config.erp, store, **hooks[fault])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
