"""The servicemobility benchmark's baseline in the receiver's own server stack: ``inventory-receiver
serve`` with one more endpoint, ``POST /bench/trivial`` (parse the JSON body, answer 200). It is the
benchmark's, never the receiver's: a deployment has no such route.

    python -m bench.trivial_server --config receiver.toml serve
"""

from __future__ import annotations

import argparse
import os
import sys

from flask import Flask, Response, jsonify, request

from inventory_push_kit.receiver import create_app, web
from inventory_push_kit.receiver.config import Config, load_config
from inventory_push_kit.receiver.server import serve


def with_trivial_endpoint(config: Config) -> Flask:
    """The receiver's app, plus the trivial endpoint."""
    app = create_app(config)

    @app.post("/bench/trivial")
    def bench_trivial() -> Response:
        web.parse_json(request.get_data())
        return jsonify({"outcome": "ok"})

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trivial_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("command", choices=["serve"])
    args = parser.parse_args(argv)
    serve(load_config(args.config, os.environ), with_trivial_endpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
