"""Typed run configuration (filled in with the engine)."""


class ConfigError(ValueError):
    """A params file or option is invalid; the message names the key and the allowed values."""
