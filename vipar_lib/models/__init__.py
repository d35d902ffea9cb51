"""Models: SlowFast with the report's Table-1 parts, TSM, and the baseline 3D networks.

``create_model(name, num_classes=..., **options)`` and ``list_models()``.
"""
from .registry import ModelOptionError, create_model, list_models, model_options, model_spec

__all__ = ["ModelOptionError", "create_model", "list_models", "model_options", "model_spec"]
