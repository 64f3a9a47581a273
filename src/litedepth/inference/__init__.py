"""Inference: one loader for every source, a predictor, prediction files, visualisation.

* :func:`load_model` — a registered name (random or with weights), a checkpoint, an ONNX file,
  an official folder or a weights file -> :class:`LoadedModel` (network + output spec +
  weights provenance);
* :class:`Predictor` — preprocess -> forward -> postprocess on paths, PIL images or arrays,
  returning :class:`Prediction` objects that carry their meaning;
* :func:`predict_files` — a folder of outputs plus ``predictions.json``.
"""

from litedepth.inference.loading import LoadedModel, WeightsInfo, load_checkpoint_model, load_model
from litedepth.inference.predictor import Prediction, Predictor

__all__ = ["LoadedModel", "Prediction", "Predictor", "WeightsInfo", "load_checkpoint_model", "load_model",
           "predict_files"]


def __getattr__(name: str):
    if name == "predict_files":  # lazy: pulls in the file writers
        from litedepth.inference.files import predict_files

        return predict_files
    raise AttributeError(name)
