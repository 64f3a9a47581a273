"""Applications built on the library (floor 6 of docs/architecture.md).

* :mod:`litedepth.apps.assistant` — the low-vision assistant (``litedepth assist``): depth,
  detectors, tracking, alerts, speech; optional dependencies in the ``assist`` extra.
* :mod:`litedepth.apps.serve` — the web demo (``litedepth serve``); Gradio in the ``serve`` extra.
* :mod:`litedepth.apps.demo` — ``litedepth demo``: synthetic scenes, training, evaluation against a
  baseline.
* :mod:`litedepth.apps.distill` — ``litedepth distill``: a small network from a foundation model.

The former modules ``assist``, ``alerts``, ``detectors``, ``scale``, ``speech`` and
``serve_media`` are deprecated aliases of their new places.
"""
