"""The inventory push kit: ``inventory_push_kit.receiver`` (what a customer runs or copies),
``inventory_push_kit.simulator`` (the platforms' sending side), ``inventory_push_kit.contract_tests``
(the pytest plugin and suite) and ``inventory_push_kit.fixtures`` (the recorded payloads).

In the repository each is a top-level folder; this package's entries are symlinks to them, so the kit
is imported under this one name only and installs no top-level name another distribution may own."""
