"""Networks and their registry. Importing this package registers every family."""

from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import ModelInfo, create_model, list_models, model_info, output_spec_of, register_model
from litedepth.models.spec import OutputSpec, to_depth

# Families: one import line each.
from litedepth.models import deeplabv3  # noqa: F401,E402
from litedepth.models import monodepth2  # noqa: F401,E402
from litedepth.models import pose  # noqa: F401,E402
from litedepth.models import lite_mono  # noqa: F401,E402
from litedepth.models import hybrid  # noqa: F401,E402
from litedepth.models import multitask  # noqa: F401,E402
from litedepth.models import segmentation  # noqa: F401,E402

from litedepth.models.pretrained import load_pretrained  # noqa: E402

__all__ = [
    "DepthOutput", "ModelInfo", "OutputSpec", "create_model", "list_models", "load_pretrained", "model_info",
    "output_spec_of", "register_model", "to_depth",
]
