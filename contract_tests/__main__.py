"""``python -m inventory_push_kit.contract_tests``: how to run the suite, and every option it takes."""

from __future__ import annotations

import sys

from .plugin import FLAGS, OPTIONS, REPEATABLE

USAGE = """The contract suite is a pytest plugin: run it with pytest against your receiver (and broker).

  python -m pytest --pyargs inventory_push_kit.contract_tests --receiver-url https://host:8443 --ca-bundle ca.pem \\
      --stock-header 'X-Stock-Key: secret' --state-probe https://host:8443/api

  python -m pytest --pyargs inventory_push_kit.contract_tests --list-rules    # every rule checked, with its sentence

Each option can also come from its environment variable (a repeatable one: one value per line), e.g.
after `. DIR/sender.env` written by `inventory-receiver init`. Options:
"""


def main() -> int:
    print(USAGE)
    for option, (env, help_text) in OPTIONS.items():
        kind = " (flag)" if option in FLAGS else " (repeatable)" if option in REPEATABLE else ""
        print(f"  {option}{kind}  [env {env}]\n      {help_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
