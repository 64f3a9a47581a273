"""Inference helpers: Predictor, checkpoint loading, visualisation."""

from litedepth.inference.predictor import LoadedModel, Predictor, load_checkpoint_model

__all__ = ["LoadedModel", "Predictor", "load_checkpoint_model"]
