"""The reference receiver: what a customer runs (or copies) to receive the platforms' pushes.

``create_app(config)`` builds the Flask app of the HTTP channels; ``receiver.amqp`` is the ERP's AMQP
consumer. The receiver imports neither ``simulator`` nor ``contract_tests``.
"""

from .app import create_app
from .config import Config, load_config

__all__ = ["Config", "create_app", "load_config"]
