"""Serve every HTTP mutant (and the reference, and each ERP mutant's read API) from one gunicorn server,
each under ``/mutant/<name>/`` on a SQLite store of its own in ``<data_dir>/mutants/``:

    python -m tests.mutants.http_server --config receiver.toml serve

The configuration is the template every mutant starts from (all channels on, their credentials); a
mutant changes its own copy (``Mutant.config``) and then its app (``Mutant.mutate``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from inventory_push_kit.receiver import create_app
from inventory_push_kit.receiver.config import Config, load_config
from inventory_push_kit.receiver.server import serve
from inventory_push_kit.receiver.storage import Store
from tests.mutants import REFERENCE, Mutant, load_all


def store_url(config: Config, mutant: Mutant) -> str:
    """The SQLite file of one mutant (the ERP mutant's consumer writes the same one)."""
    folder = Path(config.storage.data_dir).resolve() / "mutants"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / mutant.name}.db"


def mutant_app(config: Config, mutant: Mutant) -> Flask:
    changed = config.replace(storage={"url": store_url(config, mutant)}, **mutant.config)
    store = Store.from_config(changed.storage)
    store.create_schema()
    app = create_app(changed, store=store)
    if mutant.mutate is not None:
        mutant.mutate(app, store, changed)
    return app


def every_mutant(config: Config) -> Any:
    root = Flask("mutants")
    root.add_url_rule("/healthz", "healthz", lambda: jsonify({"status": "ok"}))
    mutants = [REFERENCE, *load_all().values()]
    return DispatcherMiddleware(root, {f"/mutant/{m.name}": mutant_app(config, m) for m in mutants})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants.http_server")
    parser.add_argument("--config", required=True)
    parser.add_argument("command", choices=["serve"])
    args = parser.parse_args(argv)
    serve(load_config(args.config, os.environ), every_mutant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
