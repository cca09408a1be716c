"""Contract tests: check ANY receiver from the outside, the way the platforms will use it.

Run against a receiver at any URL (and broker)::

    pytest --pyargs contract_tests --receiver-url https://host:8443 \\
        --stock-header 'X-Stock-Key: secret' --ca-bundle ca.pem --state-probe https://host:8443/api

Every test sends through ``simulator`` (never a second client), names the sentence of the document or
the NOTES.md decision it checks, and is marked ``must`` (the document's words) or ``should`` (our
decisions and best practice). This package never imports ``receiver``.
"""
