"""A tiny MVTec AD 2 tree (layout of anomalib 2.7's ``MVTecAD2`` and MVTec's public utilities)
and the fake detector's maps computed independently of pyimgano, for the protocol tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

H, W = 12, 16


def _image(seed: int, box: tuple[int, int, int, int] | None, value: int = 230) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = (100 + rng.integers(-12, 13, (H, W))).astype(np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        grey[y0:y1, x0:x1] = value
    return grey


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode="L").save(path)
    return path


def write_ad2(root: Path, category: str, *, n_private: int = 3, validation: int = 4) -> Path:
    """``<root>/<category>/{train,validation}/good``, ``test_public/{good,bad}`` with masks,
    ``test_private/NNN_regular.png`` and ``test_private_mixed/NNN_mixed.png``."""
    cat = root / category
    _save(cat / "train/good/000_regular.png", _image(1, None))
    for i in range(validation):
        _save(cat / f"validation/good/{i:03d}_regular.png", _image(10 + i, None))
    for i in range(3):  # good 001 has a bright speck: false positives at any fair threshold
        speck = (7, 3, 9, 5) if i == 1 else None
        _save(cat / f"test_public/good/{i:03d}_regular.png", _image(20 + i, speck, 200))
    boxes = [(2, 2, 6, 5), (9, 6, 14, 10), (0, 0, 3, 12)]
    for i, box in enumerate(boxes):  # defect 002 is faint: partly below the threshold
        value = 112 if i == 2 else 230
        _save(cat / f"test_public/bad/{i:03d}_regular.png", _image(30 + i, box, value))
        mask = np.zeros((H, W), np.uint8)
        x0, y0, x1, y1 = box
        mask[y0:y1, x0:x1] = 255
        _save(cat / f"test_public/ground_truth/bad/{i:03d}_regular_mask.png", mask)
    for split, suffix in (("test_private", "regular"), ("test_private_mixed", "mixed")):
        for i in range(n_private):
            box = (1 + i, 1, 5 + i, 4) if i % 2 else None
            _save(cat / f"{split}/{i:03d}_{suffix}.png", _image(40 + i + 7 * len(split), box))
    return cat


def fake_map(path: Path) -> np.ndarray:
    """What ``tests.fakes.FakeDetector`` returns for an image, computed here from the file."""
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
    return np.abs(grey - np.median(grey))


def read_mask(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)) > 0
