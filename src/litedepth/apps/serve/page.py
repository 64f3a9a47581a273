"""The web demo's page: the Gradio layout of a :class:`~litedepth.apps.serve.service.DepthService`
and the server that serves it.

Gradio is an optional dependency (``pip install 'litedepth[serve]'``), imported only by
:func:`import_gradio`, which says how to install it when it is missing. :func:`build_app` lays out
the page and :func:`launch` serves it, on ``127.0.0.1`` unless told otherwise.

The page's predictions are also HTTP API endpoints, callable with ``gradio_client``:
``/predict`` (inputs: image, model label, near threshold in metres, field of view in degrees;
outputs: depth view with colour bar, overlay image, summary text, download files, 3-D view
``.glb``, a note on the files) and ``/predict_video`` (video, model label -> depth video,
summary).
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from litedepth.apps.serve.service import DepthService
from litedepth.apps.serve.uploads import UploadLimits, read_upload, request_folder, save_data_url
from litedepth.errors import ConfigError, DataError, LitedepthError

log = logging.getLogger(__name__)

__all__ = ["GRADIO_HINT", "build_app", "import_gradio", "launch"]

GRADIO_HINT = "the web demo needs Gradio: pip install 'litedepth[serve]'"


def import_gradio():  # noqa: ANN201 - the gradio module
    """``import gradio`` (analytics off), or a :class:`ConfigError` saying how to install it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError as exc:
        raise ConfigError(GRADIO_HINT) from exc
    return gr


def build_app(service: DepthService, title: str = "litedepth depth demo", max_queue: int = 64,
              workdir: str | Path | None = None):
    """The Gradio page of ``service`` (a ``gradio.Blocks``; not launched).

    One model picker (untrained networks are labelled) serves two tabs:

    * **Image**: an upload / webcam / pasted image, or one of the example scenes
      (:func:`~litedepth.apps.serve.media.make_examples`, rendered into ``workdir`` when the page
      is built) -> the depth map with its colour bar and unit, the alert overlay, the alerts,
      a 3-D view of the coloured point cloud (``.glb`` surface) and downloads of the raw map
      (``.npy``, 16-bit PNG) and of the point cloud (``.ply``), with a field of view input for
      its intrinsics (:func:`~litedepth.apps.serve.media.write_downloads`).
    * **Video**: an uploaded video or the example walk -> a depth video (input | depth, H.264;
      the first :attr:`UploadLimits.max_video_frames` frames).

    Uploads reach :meth:`DepthService.predict_upload` undecoded; a bad one is refused with its
    message (a one-line warning in the log, no traceback). At most ``max_queue`` requests wait
    (more are told the queue is full); files older than an hour are deleted every 10 minutes.
    The two predictions are API endpoints too: ``/predict`` (image, model, near limit in metres,
    field of view in degrees -> depth view, overlay, summary, files, 3-D view, note on the
    files) and ``/predict_video`` (video, model -> depth video, summary).

    Args:
        service: predictions and overlays.
        title: the page's title.
        max_queue: requests that may wait.
        workdir: where the examples and results are written (default: ``$GRADIO_TEMP_DIR``,
            the private folder of :func:`~litedepth.apps.serve.uploads.private_storage`, else the
            system's temporary folder).

    Raises:
        ConfigError: Gradio is not installed.
    """
    from litedepth.apps.serve import media
    from litedepth.inference.pointcloud import DEFAULT_FOV_DEG

    gr = import_gradio()
    work = Path(workdir or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    examples = media.make_examples(work / "examples")
    results = work / "results"

    def undecoded(payload: Any) -> str | None:
        """The image input's preprocessing: the uploaded file's path, undecoded. (``gr.Image``
        opens it with PIL first, so a non-image fails there with Gradio's own error and a
        traceback; :func:`read_upload` checks and decodes it instead.) Set on the instance:
        subclassing a Gradio component makes Gradio write a ``.pyi`` stub next to our module."""
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):  # base64 image from an API client
            return save_data_url(payload.url, image.GRADIO_CACHE, service.limits)
        if payload.path is None:
            raise gr.Error("no image was received", print_exception=False)
        return str(payload.path)

    def refuse(exc: LitedepthError) -> Exception:
        log.warning("refused a request: %s", exc)
        return gr.Error(str(exc), title="Cannot use this input", print_exception=False)

    def run(image: str | None, label: str, near_m: float, fov_deg: float):
        try:
            if image is None:
                raise DataError(None, "no image: upload one, take a webcam snapshot or pick an example")
            rgb = read_upload(image, service.limits)
            r = service.predict(rgb, label, near_m)
            stem = f"{media.safe_stem(Path(image).name)}_{media.safe_stem(r.label, 'model')}"
            files = media.write_downloads(request_folder(results), stem, r, rgb, float(fov_deg))
        except LitedepthError as exc:
            raise refuse(exc) from None
        return (r.depth_view, r.overlay_rgb, r.summary, [str(p) for p in files.files],
                None if files.glb is None else str(files.glb), files.note)

    def run_video(video: str | None, label: str):
        try:
            if video is None:
                raise DataError(None, "no video: upload one or pick the example")
            r = media.predict_video_file(service, video, label, request_folder(results))
        except LitedepthError as exc:
            raise refuse(exc) from None
        return str(r.video), r.summary

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown(f"## {title}\nPick a model, then an image (upload, webcam snapshot or one of the synthetic "
                    "examples) or a video. The depth map's colour bar gives the colours' values: **metres** for "
                    "metric models, **relative** values (no unit) otherwise. Networks marked *untrained* have "
                    "random weights: their maps are noise. The overlay tints what is nearer than the near (red) "
                    "and close (orange) limits and announces it: detected objects, or the left / ahead / right "
                    "thirds of the view without a detector.")
        model = gr.Dropdown(choices=[(service.picker_label(label), label) for label in service.labels],
                            value=service.labels[0], label="model", elem_id="model")
        with gr.Tabs():
            with gr.Tab("Image", elem_id="image-tab"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(sources=["upload", "webcam", "clipboard"], type="filepath", image_mode=None,
                                         label="image", elem_id="input-image")
                        image.preprocess = undecoded
                        near = gr.Slider(0.2, 5.0, value=1.0, step=0.1, label="near limit (m)", elem_id="near")
                        fov = gr.Slider(20, 120, value=DEFAULT_FOV_DEG, step=1, elem_id="fov",
                                        label="camera field of view (degrees, horizontal): the point cloud's "
                                              "intrinsics (phones and webcams: about 60-70)")
                        button = gr.Button("Estimate depth", variant="primary", elem_id="run")
                        gr.Examples([[str(p)] for p in examples.images], inputs=[image], elem_id="examples",
                                    label="examples: synthetic scenes rendered by litedepth (click one, then "
                                          "Estimate depth)")
                    with gr.Column():
                        depth = gr.Image(label="depth (colour bar in the map's units)", type="numpy", format="png",
                                         interactive=False, show_label=False, buttons=["download", "fullscreen"],
                                         elem_id="depth")
                        overlay = gr.Image(label="alert overlay", type="numpy", format="png", interactive=False,
                                           buttons=["download", "fullscreen"], elem_id="overlay")
                        summary = gr.Textbox(label="alerts", lines=4, interactive=False, elem_id="summary")
                with gr.Row():
                    view3d = gr.Model3D(label="3-D view of the coloured point cloud (drag: turn, scroll: zoom)",
                                        clear_color=(0.93, 0.93, 0.93, 1.0), camera_position=(65, 75, None),
                                        height=420, elem_id="view3d")
                    with gr.Column():
                        downloads = gr.File(label="downloads: raw depth and point cloud", file_count="multiple",
                                            interactive=False, elem_id="downloads")
                        note = gr.Markdown(elem_id="downloads-note")
            with gr.Tab("Video", elem_id="video-tab"):
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(sources=["upload"], label="video", elem_id="input-video")
                        video_button = gr.Button("Make a depth video", variant="primary", elem_id="run-video")
                        gr.Markdown(f"The first {service.limits.max_video_frames} frames are used "
                                    f"(`--max-video-frames`); frames larger than {media.MAX_VIDEO_SIDE} pixels "
                                    "are shrunk.")
                        if examples.video is not None:
                            gr.Examples([[str(examples.video)]], inputs=[video_in], elem_id="video-examples",
                                        label="example: a walk down a synthetic street")
                    with gr.Column():
                        video_out = gr.Video(label="depth video (left: input, right: depth, near = bright)",
                                             interactive=False, elem_id="output-video")
                        video_summary = gr.Textbox(label="about this video", lines=4, interactive=False,
                                                   elem_id="video-summary")
        button.click(run, [image, model, near, fov], [depth, overlay, summary, downloads, view3d, note],
                     api_name="predict")
        video_button.click(run_video, [video_in, model], [video_out, video_summary], api_name="predict_video")
    app.queue(max_size=max_queue)
    return app


def launch(app: Any, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           limits: UploadLimits | None = None) -> str:
    """Serve ``app`` (from :func:`build_app`) on ``host:port``; returns the local URL.

    ``limits.max_bytes`` caps every upload at the upload route, before it is stored.
    ``block=False`` returns once the server is up (stop it with ``app.close()``); with
    ``block=True``, SIGTERM stops the server like Ctrl+C (so that cleanup runs).
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines, without authentication", host)
    max_bytes = (limits or UploadLimits()).max_bytes
    _, local_url, _ = app.launch(server_name=host, server_port=int(port), prevent_thread_lock=True,
                                 share=False, quiet=True, show_error=True, inbrowser=False,
                                 max_file_size=max_bytes)
    url = str(local_url or f"http://{host}:{port}/")
    log.info("litedepth web demo on %s (Ctrl+C stops it); uploads up to %g MB", url, max_bytes / 2**20)
    if block:
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            app.block_thread()  # returns on KeyboardInterrupt (Ctrl+C, or SIGTERM via _interrupt)
        finally:
            app.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return url


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
