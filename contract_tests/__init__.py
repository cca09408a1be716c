"""Contract tests: check ANY receiver from the outside, the way the platforms will use it.

Run against a receiver at any URL (and broker)::

    pytest --pyargs inventory_push_kit.contract_tests --receiver-url https://host:8443 \\
        --stock-header 'X-Stock-Key: secret' --ca-bundle ca.pem --state-probe https://host:8443/api

Every check sends through ``simulator`` (never a second client) and names one rule (``rules.py``): the
sentence of the document, or the decision (``decisions.md``), it checks, marked ``must`` (the document's
words) or ``should`` (the kit's decisions and best practice). This package never imports ``receiver``.
"""
