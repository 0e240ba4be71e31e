"""The local AWS API emulator (moto, patched): see README.md in this folder."""

from .patches import apply_all, apply_patches
from .server import main

__all__ = ["apply_all", "apply_patches", "main"]
