"""anomalib's ``Folder`` vocabulary: a custom dataset described by directories (SPEC §4).

Options (each a path or a list of paths; relative paths are relative to ``root``):

- ``normal_dir`` (required): normal images.
- ``abnormal_dir``: anomalous images; ``defect_type`` is the name of the directory an image is
  in, so several abnormal dirs give per-defect metrics.
- ``normal_test_dir``: normal test images. Without it the test normals are the images of
  ``normal_dir`` (anomalib would split off a random part of them, which a regression harness
  cannot reproduce; scoring images a model was trained on is optimistic, so give a
  ``normal_test_dir`` where you have one).
- ``mask_dir``: masks of the anomalous images, matched by image stem: ``<stem>_mask.<ext>`` or
  ``<stem>.<ext>``, any image extension, any case. An abnormal image without one gets
  ``mask_paths=None``.

The category is the dataset's name, any string the caller picks; :func:`list_categories`
returns ``[name of root]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pyimgano.datasets._files import IMAGE_EXTENSIONS, MaskIndex, list_images, require_dir
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, Sample
from pyimgano.errors import ConfigError, DatasetError

DirOption = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _dirs(root: Path, key: str, value: DirOption) -> list[Path]:
    if value is None:
        return []
    items = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    if not all(isinstance(v, (str, os.PathLike)) for v in items):
        raise ConfigError(f"folder option {key}={value!r}: expected a path or a list of paths")
    out = []
    for item in items:
        path = Path(item)
        path = path if path.is_absolute() else root / path
        out.append(require_dir(path, f"folder option {key}:"))
    return out


def _images(directories: list[Path], key: str) -> list[Path]:
    images: list[Path] = []
    for directory in directories:
        found = list_images(directory)
        if not found:
            raise DatasetError(
                f"folder option {key}: {directory} holds no images "
                f"(extensions {', '.join(IMAGE_EXTENSIONS)}, any case)"
            )
        images.extend(found)
    return images


def list_categories(root: Path, **_: object) -> list[str]:
    """``[root's directory name]`` (the category of a folder dataset is its name)."""
    require_dir(root, "folder dataset root")
    return [root.resolve().name or "folder"]


def load_samples(
    root: Path,
    category: str,
    *,
    normal_dir: DirOption = None,
    abnormal_dir: DirOption = None,
    normal_test_dir: DirOption = None,
    mask_dir: DirOption = None,
) -> list[Sample]:
    """Test samples: normals from ``normal_test_dir`` (else ``normal_dir``), then abnormals."""
    require_dir(root, "folder dataset root")
    if normal_dir is None:
        raise ConfigError(
            "folder format needs option normal_dir (also: abnormal_dir, normal_test_dir, mask_dir)"
        )
    normal = _dirs(root, "normal_dir", normal_dir)
    normal_test = _dirs(root, "normal_test_dir", normal_test_dir)
    abnormal = _dirs(root, "abnormal_dir", abnormal_dir)
    masks = MaskIndex(_dirs(root, "mask_dir", mask_dir))
    if normal_test:
        normals = _images(normal_test, "normal_test_dir")
    else:
        normals = _images(normal, "normal_dir")
    samples = [Sample(p, NORMAL, None, GOOD) for p in normals]
    for image in _images(abnormal, "abnormal_dir"):
        hit = masks.find(image)
        samples.append(
            Sample(image, ANOMALOUS, (hit,) if hit else None, image.parent.name or "abnormal")
        )
    return samples
