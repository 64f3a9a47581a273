"""Training regimes: one thin LightningModule per regime, plus the shared trainer assembly."""

from litedepth.tasks.self_supervised import SelfSupervisedDepthTask
from litedepth.tasks.supervised import SupervisedDepthTask

__all__ = ["SelfSupervisedDepthTask", "SupervisedDepthTask"]
