"""Frame sources (camera, video file, image folder / glob) and video / image-sequence writers.

Every source yields :class:`Frame` objects of one schema, whatever it reads:

==========  ======================  ======================================================
field       type / shape            meaning
==========  ======================  ======================================================
``index``   int                     0, 1, 2, ... in reading order
``rgb``     uint8 ``(H, W, 3)``     RGB (greyscale images are repeated on three channels)
``time_s``  float                   seconds since the first frame: ``index / fps`` for
                                    video files (the container's timestamp when it has
                                    one) and image sequences; monotonic wall-clock time
                                    since the first frame for cameras
``name``    str or None             file stem for image sequences, ``None`` otherwise
==========  ======================  ======================================================

Image sequences have no frame rate of their own: pass ``fps`` to :func:`open_source`; without
it ``source.fps`` is ``None`` and ``time_s`` is the frame index (one frame per second).

Video files are written as **H.264** (``avc1``, 4:2:0, what web browsers play) through PyAV,
whose wheels bundle FFmpeg with libx264; without PyAV or an H.264 encoder the writer falls
back to OpenCV's MPEG-4 Part 2 (``mp4v``) with a warning (most browsers do not play that).
``.avi`` files are Motion JPEG (OpenCV). :func:`h264_encoder` says which encoder is used.

Writers write to a temporary file beside the destination and rename it over the destination
when closed (:func:`os.replace`), so a reader never sees a half-written video; a writer closed
by an exception discards its temporary file.

The package, by concept: :mod:`.sources` (the :class:`Frame` schema, the sources and
:func:`open_source`), :mod:`.encoders` (which H.264 encoder is used, and the PyAV / OpenCV
backends behind the writer) and :mod:`.writers` (:class:`VideoWriter`,
:class:`ImageSequenceWriter`). Every name is importable from the package.

Example:
    >>> from litedepth.io.video import VideoWriter, open_source
    >>> with open_source("clip.mp4") as src, VideoWriter("out.mp4", fps=src.fps or 10) as out:  # doctest: +SKIP
    ...     for frame in src:
    ...         out.write(255 - frame.rgb)
"""

from litedepth.io.video import sources, encoders, writers
from litedepth.io.video.sources import *  # noqa: F403 - the names of its __all__
from litedepth.io.video.encoders import *  # noqa: F403 - the names of its __all__
from litedepth.io.video.writers import *  # noqa: F403 - the names of its __all__

#: every public name, as listed by the modules' own ``__all__``
__all__ = [*sources.__all__, *encoders.__all__, *writers.__all__]
