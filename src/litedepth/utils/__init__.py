"""Small shared utilities (atomic file writes, logging set-up)."""

from litedepth.utils.atomic import atomic_open, atomic_save_npz, atomic_torch_save, atomic_write_bytes

__all__ = ["atomic_open", "atomic_save_npz", "atomic_torch_save", "atomic_write_bytes"]
