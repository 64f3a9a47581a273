"""Training regimes: one thin LightningModule per regime, plus the shared trainer assembly."""

from litedepth.tasks.distill import AffineDistillationTask
from litedepth.tasks.self_supervised import SelfSupervisedDepthTask
from litedepth.tasks.supervised import SupervisedDepthTask

__all__ = ["AffineDistillationTask", "SelfSupervisedDepthTask", "SupervisedDepthTask"]
