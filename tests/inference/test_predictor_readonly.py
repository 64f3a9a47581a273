"""Predicting on a read-only array (what PIL / np.asarray hand over) raises no warning."""

import warnings

import numpy as np

from litedepth.inference import Predictor


def test_read_only_input_gives_no_torch_warning():
    image = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    image.setflags(write=False)
    predictor = Predictor.load("lite-mono-tiny", input_size=(32, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        prediction = predictor.infer_batch([image])[0]
    assert prediction.raw.shape == (40, 56)
    assert not image.flags.writeable  # the caller's array is untouched
