"""Web demo (``litedepth serve``): upload an image, take a webcam snapshot or pick an example,
pick a model, see the depth map with its colour bar, a near-object alert overlay and a 3-D view
of the point cloud, download the raw depth and the point cloud; or turn a video into a depth video.

The work is split so that everything but the page is testable without Gradio:

===============  ================================================================================
module           what lives there
===============  ================================================================================
``service``      :class:`ModelSource` (one entry of the model picker, built on first use;
                 untrained entries get the same random weights at every start),
                 :func:`default_sources`, and :class:`DepthService`: a prediction and its overlay
                 for one image, the map drawn with its colour bar and unit (metres for metric
                 depth; "relative", never metres, otherwise) -> :class:`ServeResult`
``overlays``     the alert overlays: :func:`near_region_overlay` (from the depth map alone, with
                 the alert logic of :mod:`litedepth.apps.assistant.alerts`) and
                 :func:`detector_overlay` (an object detector's boxes); any :data:`OverlayFn`
                 replaces them (``DepthService(overlay=...)``)
``uploads``      :class:`UploadLimits` and :func:`read_upload` (bytes and pixels checked before
                 anything is decoded; a bad upload is refused with one line naming it), and
                 :func:`private_storage` (a ``0700`` temporary folder removed at shutdown)
``media``        the example inputs (synthetic scenes), the downloads (``.npy``, 16-bit PNG,
                 ``.ply``, the ``.glb`` of the 3-D view) and the depth videos
``page``         :func:`build_app` (the Gradio page; ``pip install 'litedepth[serve]'``) and
                 :func:`launch` (on ``127.0.0.1`` unless told otherwise)
===============  ================================================================================

The page's predictions are also HTTP API endpoints, callable with ``gradio_client``:
``/predict`` (inputs: image, model label, near threshold in metres, field of view in degrees;
outputs: depth view with colour bar, overlay image, summary text, download files, 3-D view
``.glb``, a note on the files) and ``/predict_video`` (video, model label -> depth video,
summary).

Every public name of the modules is importable from the package itself. The former module
``litedepth.apps.serve_media`` still imports, as :mod:`litedepth.apps.serve.media`, with a
:class:`DeprecationWarning`, for one more release.

Example:
    >>> service = DepthService([ModelSource("lite-mono-tiny", "lite-mono-tiny")], input_size=(64, 96))  # doctest: +SKIP
    >>> result = service.predict(rgb, "lite-mono-tiny")  # doctest: +SKIP
    >>> result.depth_rgb.shape == rgb.shape  # doctest: +SKIP
    True
"""

from litedepth.apps.serve.overlays import DIRECTIONS, OverlayFn, OverlayResult, detector_overlay, near_region_overlay
from litedepth.apps.serve.page import GRADIO_HINT, build_app, import_gradio, launch
from litedepth.apps.serve.service import RANDOM_WEIGHTS_SEED, DepthService, ModelSource, ServeResult, default_sources
from litedepth.apps.serve.uploads import UploadLimits, private_storage, read_upload

__all__ = [
    "DIRECTIONS",
    "GRADIO_HINT",
    "RANDOM_WEIGHTS_SEED",
    "DepthService",
    "ModelSource",
    "OverlayFn",
    "OverlayResult",
    "ServeResult",
    "UploadLimits",
    "build_app",
    "default_sources",
    "detector_overlay",
    "import_gradio",
    "launch",
    "near_region_overlay",
    "private_storage",
    "read_upload",
]
