"""Models: SlowFast with the report's Table-1 parts (text and release readings), TSM, and the baseline 3D networks.

``create_model(name, num_classes=..., **options)`` and ``list_models()``. Importing this package
imports every variant module, which registers its variants (timm's pattern): the registry itself
imports none of them.
"""
from . import baselines, slowfast, slowfast_release, tsm  # noqa: F401  (each registers its variants)
from .registry import ModelOptionError, create_model, list_models, model_fingerprint, model_options, model_spec

__all__ = ["ModelOptionError", "create_model", "list_models", "model_fingerprint", "model_options", "model_spec"]
