"""Published weights by name: a manifest, a download cache, and a resolver.

Bottom layer (imports only :mod:`litedepth.errors` and :mod:`litedepth.utils`), so that models,
apps and the CLI can all accept a published name wherever they accept a weights path.

Example:
    >>> from litedepth.weights import load_manifest, resolve
    >>> "monodepth2-mono-640x192" in load_manifest()
    True
    >>> resolve("lite-mono-640x192", network="lite-mono")  # doctest: +SKIP
    PosixPath('/home/me/.cache/litedepth/weights/lite-mono-640x192')

See :mod:`litedepth.weights.manifest` (fields, user manifests, mirrors) and
:mod:`litedepth.weights.store` (cache layout, verification).
"""

from litedepth.weights.manifest import MANIFEST_ENV, MIRROR_ENV, Manifest, WeightsEntry, load_manifest
from litedepth.weights.store import (
    CACHE_ENV,
    DownloadResult,
    cache_root,
    download,
    is_present,
    local_path,
    resolve,
    weights_dir,
)

__all__ = [
    "CACHE_ENV",
    "MANIFEST_ENV",
    "MIRROR_ENV",
    "DownloadResult",
    "Manifest",
    "WeightsEntry",
    "cache_root",
    "download",
    "is_present",
    "load_manifest",
    "local_path",
    "resolve",
    "weights_dir",
]
