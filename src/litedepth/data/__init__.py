"""Datasets, readers and data modules."""

from litedepth.data.folder import DepthDataModule, FolderDepthDataset, match_pairs, split_indices

__all__ = ["DepthDataModule", "FolderDepthDataset", "match_pairs", "split_indices"]
