"""Segmentation metrics against hand-computed confusion matrices (absent class, void pixels)."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

import litedepth.metrics.segmentation as seg_metrics
from litedepth.metrics.segmentation import (
    SegmentationMetrics,
    confusion_matrix,
    iou_per_class,
    per_image_confusion,
    segmentation_scores,
)

V = 255
# Image A (2x4): classes 0, 1 and void; class 2 is absent from A's ground truth but predicted once.
GT_A = [[0, 0, 1, 1], [0, V, 1, 1]]
PR_A = [[0, 1, 1, 1], [0, 2, 1, 2]]
# Image B (2x4): classes 0 and 2; class 1 absent from both ground truth and prediction.
GT_B = [[0, 0, 2, 2], [V, V, 2, 2]]
PR_B = [[0, 2, 2, 2], [1, 1, 2, 0]]
# Hand count (rows = gt, cols = pred), void pixels (even where predicted) left out:
#   A: gt0 -> pred 0,1,0 ; gt1 -> 1,1,1,2         B: gt0 -> 0,2 ; gt2 -> 2,2,2,0
CM_A = [[2, 1, 0], [0, 3, 1], [0, 0, 0]]
CM_B = [[1, 0, 1], [0, 0, 0], [1, 0, 3]]
CM = [[3, 1, 1], [0, 3, 1], [1, 0, 3]]


def batch():
    return torch.tensor([PR_A, PR_B]), torch.tensor([GT_A, GT_B])


def test_doctests():
    assert doctest.testmod(seg_metrics, raise_on_error=False).failed == 0


def test_confusion_matrices_by_hand():
    pred, gt = batch()
    assert per_image_confusion(pred, gt, 3).tolist() == [CM_A, CM_B]
    assert confusion_matrix(pred, gt, 3).tolist() == CM


def test_confusion_matrix_agrees_with_torchmetrics():
    g = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 6, (3, 9, 11), generator=g)
    gt[gt == 5] = 255
    pred = torch.randint(0, 5, (3, 9, 11), generator=g)
    tm = MulticlassConfusionMatrix(num_classes=5, ignore_index=255)
    assert torch.equal(confusion_matrix(pred, gt, 5), tm(pred, gt))


def test_scores_by_hand():
    pred, gt = batch()
    s = segmentation_scores(torch.tensor(CM), per_image_confusion(pred, gt, 3), background=(0,))
    # IoU_c = TP / (row + col - TP): class 0: 3/(5+4-3), class 1: 3/(4+4-3), class 2: 3/(4+5-3)
    iou = [3 / 6, 3 / 5, 3 / 6]
    assert s["iou"].tolist() == pytest.approx(iou)
    assert float(s["miou"]) == pytest.approx(sum(iou) / 3)
    assert float(s["pixel_acc"]) == pytest.approx(9 / 13)
    # iIoU: (image, object class) pairs present in gt or prediction, background excluded:
    #   A/1: 3/(4+4-3) = 3/5; A/2: 0/(0+1-0) = 0 (predicted, absent from gt)
    #   B/1: absent from gt and prediction -> not counted; B/2: 3/(4+4-3) = 3/5
    assert float(s["iiou"]) == pytest.approx((3 / 5 + 0 + 3 / 5) / 3)


def test_absent_class_is_left_out_of_the_mean():
    cm = torch.tensor([[4, 0, 0], [0, 0, 0], [1, 0, 2]])  # class 1 never in gt nor prediction
    iou = iou_per_class(cm)
    assert math.isnan(iou[1])
    assert float(segmentation_scores(cm)["miou"]) == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert math.isnan(float(segmentation_scores(cm)["iiou"]))  # no per-image matrices given


def test_accumulator_matches_one_shot_and_accepts_logits():
    pred, gt = batch()
    m = SegmentationMetrics(num_classes=3)
    m.update(pred[:1], gt[:1])
    logits = torch.nn.functional.one_hot(pred[1:], 3).permute(0, 3, 1, 2).float()
    m.update(logits, gt[1:])
    s = m.compute()
    assert m.confmat.tolist() == CM
    assert float(s["miou"]) == pytest.approx((3 / 6 + 3 / 5 + 3 / 6) / 3)
    assert float(s["iiou"]) == pytest.approx(0.4)
    m.reset()
    assert int(m.confmat.sum()) == 0


def test_perfect_prediction_and_errors():
    _, gt = batch()
    s = SegmentationMetrics(3)
    s.update(gt.clamp(max=2), gt)
    out = s.compute()
    assert float(out["miou"]) == 1.0 and float(out["pixel_acc"]) == 1.0 and float(out["iiou"]) == 1.0
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 7), 3)
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long), 3)
