"""Semantic segmentation metrics: mIoU, pixel accuracy and seed 002's iIoU.

Every score comes from confusion matrices ``M`` with rows = ground-truth class and columns =
predicted class, counted over the **valid** pixels only (pixels labelled ``ignore_index``,
VOC's 255 void border, are left out of every count).

Exact definitions (``C`` classes, ``B`` = the background classes, VOC: ``{0}``):

* ``IoU_c = M[c, c] / (sum_j M[c, j] + sum_i M[i, c] - M[c, c])`` over the whole evaluated
  set (one matrix summed over all images: the PASCAL VOC protocol). A class that appears in
  neither the ground truth nor the prediction has an undefined IoU (NaN) and is left out of
  the means; a class present in the ground truth but never predicted has IoU 0, and a class
  predicted but absent from the ground truth also has IoU 0.
* ``mIoU`` = mean of ``IoU_c`` over the classes where it is defined, background included.
* ``pixel_acc`` = ``trace(M) / sum(M)``: the fraction of valid pixels labelled correctly.
* ``iIoU`` (seed 002: "IoU computed only over objects, background excluded"): per-image,
  object-level IoU. For every image ``i`` and every object class ``c`` (``c`` not in ``B``)
  that occurs in that image's ground truth or prediction, ``IoU_{i,c}`` is computed from that
  image's own confusion matrix; ``iIoU`` is the mean over all such ``(image, class)`` pairs.
  Each occurrence of an object class in an image counts once whatever its size, so small
  objects weigh as much as large ones and the background never enters (VOC's class masks do
  not separate instances of one class; a class occurrence per image is the unit here). NaN
  when no image has an object class.

:func:`confusion_matrix` agrees with ``torchmetrics``' ``MulticlassConfusionMatrix`` (tested);
:class:`SegmentationMetrics` is a ``torchmetrics.Metric`` (states are summed across processes
in distributed runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

__all__ = [
    "SegmentationMetrics",
    "confusion_matrix",
    "iou_per_class",
    "per_image_confusion",
    "segmentation_scores",
]


def _labels(pred: Tensor, target: Tensor) -> Tensor:
    if pred.dim() == target.dim() + 1:  # (B, C, H, W) logits
        pred = pred.argmax(dim=1)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return pred.long()


def per_image_confusion(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """One confusion matrix per image.

    Args:
        pred: ``(B, H, W)`` predicted class ids, or ``(B, C, H, W)`` scores (argmax taken).
        target: ``(B, H, W)`` ground-truth class ids; ``ignore_index`` marks void pixels.
        num_classes: ``C``.
        ignore_index: void label, excluded from every count.

    Returns:
        ``(B, C, C)`` int64, rows = ground truth, columns = prediction.

    Raises:
        ValueError: shapes differ, or a valid pixel holds a class id outside ``[0, C)``.
    """
    pred = _labels(pred, target)
    target = target.long()
    if target.dim() == 2:
        pred, target = pred[None], target[None]
    b = target.shape[0]
    valid = target != ignore_index
    t = target[valid]
    p = pred[valid]
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(f"target holds class ids outside [0, {num_classes}) other than {ignore_index}")
    if p.numel() and (int(p.min()) < 0 or int(p.max()) >= num_classes):
        raise ValueError(f"prediction holds class ids outside [0, {num_classes})")
    img = torch.arange(b, device=target.device).view(b, *([1] * (target.dim() - 1))).expand_as(target)[valid]
    idx = (img * num_classes + t) * num_classes + p
    counts = torch.bincount(idx, minlength=b * num_classes * num_classes)
    return counts.view(b, num_classes, num_classes)


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """``(C, C)`` int64 confusion matrix summed over the batch (rows = ground truth).

    Example:
        >>> confusion_matrix(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 255]]), 2).tolist()
        [[1, 0], [0, 1]]
    """
    return per_image_confusion(pred, target, num_classes, ignore_index).sum(0)


def iou_per_class(cm: Tensor) -> Tensor:
    """``(C,)`` float64 IoU of each class from a ``(C, C)`` matrix (or ``(..., C, C)``);
    NaN where the class is in neither the ground truth nor the prediction."""
    cm = cm.double()
    tp = cm.diagonal(dim1=-2, dim2=-1)
    union = cm.sum(-1) + cm.sum(-2) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def segmentation_scores(
    cm: Tensor,
    per_image_cm: Tensor | None = None,
    background: Sequence[int] = (0,),
) -> dict[str, Tensor]:
    """Scores of a ``(C, C)`` dataset confusion matrix (see the module docstring).

    Args:
        cm: ``(C, C)`` confusion matrix summed over the evaluated images.
        per_image_cm: ``(N, C, C)`` per-image matrices, needed for ``iiou`` (else it is NaN).
        background: class ids excluded from ``iiou`` (VOC: ``(0,)``).

    Returns:
        ``{"miou", "pixel_acc", "iiou"}`` (0-d float64 tensors) and ``"iou"`` ``(C,)``.
    """
    iou = iou_per_class(cm)
    defined = ~torch.isnan(iou)
    miou = iou[defined].mean() if defined.any() else torch.tensor(float("nan"), dtype=torch.float64)
    total = cm.sum()
    acc = cm.diagonal().sum().double() / total if total > 0 else torch.tensor(float("nan"), dtype=torch.float64)
    if per_image_cm is None:
        iiou = torch.tensor(float("nan"), dtype=torch.float64)
    else:
        s, n = _object_iou_sum(per_image_cm, background)
        iiou = s / n if n > 0 else torch.tensor(float("nan"), dtype=torch.float64)
    return {"miou": miou, "pixel_acc": acc, "iiou": iiou, "iou": iou}


def _object_iou_sum(per_image_cm: Tensor, background: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Sum and count of ``IoU_{i,c}`` over images and object classes present in the image."""
    iou = iou_per_class(per_image_cm)  # (N, C)
    keep = ~torch.isnan(iou)
    bg = [c for c in background if 0 <= c < iou.shape[-1]]
    if bg:
        keep[:, bg] = False
    return torch.where(keep, iou, torch.zeros_like(iou)).sum(), keep.sum().double()


class SegmentationMetrics(Metric):
    """Accumulates mIoU, pixel accuracy, iIoU (module docstring) and per-class IoU.

    Args:
        num_classes: ``C``.
        ignore_index: void label (VOC: 255).
        background: classes excluded from ``iiou`` (VOC: ``(0,)``).

    ``update(pred, target)`` takes ``(B, H, W)`` class ids or ``(B, C, H, W)`` scores and
    ``(B, H, W)`` targets; ``compute()`` returns :func:`segmentation_scores`' dict.

    Example:
        >>> m = SegmentationMetrics(num_classes=2)
        >>> m.update(torch.tensor([[[0, 1], [1, 1]]]), torch.tensor([[[0, 1], [255, 0]]]))
        >>> round(float(m.compute()["pixel_acc"]), 4)
        0.6667
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, num_classes: int, ignore_index: int = 255, background: Sequence[int] = (0,), **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.background = tuple(int(c) for c in background)
        self.add_state("confmat", default=torch.zeros(num_classes, num_classes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("iiou_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("iiou_count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        per_image = per_image_confusion(pred, target, self.num_classes, self.ignore_index)
        self.confmat += per_image.sum(0)
        s, n = _object_iou_sum(per_image, self.background)
        self.iiou_sum += s
        self.iiou_count += n

    def compute(self) -> dict[str, Tensor]:
        scores = segmentation_scores(self.confmat, None, self.background)
        n = self.iiou_count
        scores["iiou"] = self.iiou_sum / n if n > 0 else torch.tensor(float("nan"), dtype=torch.float64)
        return scores
