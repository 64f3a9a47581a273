"""litedepth: lightweight monocular depth estimation toolkit."""

__version__ = "0.1.0"
