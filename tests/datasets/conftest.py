"""Builders of tiny on-disk datasets for the loader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

W, H = 8, 6  # default image size (width, height) of the tiny trees


class Tree:
    """Writes tiny images and masks under ``root`` (paths relative to it)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def image(
        self, rel: str, size: tuple[int, int] = (W, H), value: int = 120, mode: str = "RGB"
    ) -> Path:
        """A uniform image; the format comes from the extension (any case)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = (value, value + 10, value + 20) if mode == "RGB" else value
        Image.new(mode, size, colour).save(path, format=_format(path))
        return path

    def mask(
        self,
        rel: str,
        size: tuple[int, int] = (W, H),
        box: tuple[int, int, int, int] = (1, 1, 3, 3),
        value: int = 255,
    ) -> Path:
        """An L-mode mask whose ``box`` (x0, y0, x1, y1; exclusive) holds ``value``."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        array = np.zeros((size[1], size[0]), np.uint8)
        x0, y0, x1, y1 = box
        array[y0:y1, x0:x1] = value
        Image.fromarray(array).save(path, format=_format(path))
        return path

    def text(self, rel: str, content: str = "x") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def mvtec_category(self, cat: str, defects: tuple[str, ...] = ("crack", "scratch")) -> None:
        for i in range(2):
            self.image(f"{cat}/train/good/{i:03d}.png")
            self.image(f"{cat}/test/good/{i:03d}.png")
        for defect in defects:
            for i in range(2):
                self.image(f"{cat}/test/{defect}/{i:03d}.png", value=30)
                self.mask(f"{cat}/ground_truth/{defect}/{i:03d}_mask.png")


def _format(path: Path) -> str:
    ext = path.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        ext, ext[1:].upper()
    )


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "data"
    root.mkdir()
    return Tree(root)
