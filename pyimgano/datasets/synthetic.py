"""Deterministic synthetic MVTec-layout dataset for tests and the demo (docs/REFERENCE.md §4).

``generate(root)`` writes, for every category::

    <root>/<cat>/train/good/000.png ...
    <root>/<cat>/test/good/000.png ...
    <root>/<cat>/test/<defect>/000.png ...
    <root>/<cat>/ground_truth/<defect>/000_mask.png     (L mode, 0 / 255)
    <root>/synthetic.json                               (parameters + file list)

Normal images are textures that differ per category (``tiles``: jittered checkerboard with
grout, ``plate``: brushed metal stripes, ``disk``: a shaded copper disk on a dark background);
every image has its own random phase, colour jitter and noise. Defects are drawn on top with
hard edges, so the mask is exactly the set of pixels the defect changed: ``scratch`` (thin
curved line), ``stain`` (brownish blob), ``hole`` (missing patch) and ``color`` (saturated
spot). Every third anomalous image of a defect type (index 2, 5, ...) has its defect touching an
image border.

Determinism: every image draws from its own ``numpy.random.SeedSequence`` built from
``(seed, crc32(category), split, crc32(defect), index)``; nothing depends on time, the hash seed
or the order of generation. PNG files are written by a tiny built-in encoder with stored
(uncompressed) deflate blocks, so their bytes do not depend on the zlib build that Pillow or
Python links against. Same parameters therefore give byte-identical files on one numpy build
(numpy promises stable ``Generator`` streams in practice, not formally across releases).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pyimgano.errors import ConfigError, DatasetError

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFECT_KINDS",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "category_defects",
    "generate",
    "render_image",
]

GENERATOR_VERSION = 1
MANIFEST_NAME = "synthetic.json"
DEFAULT_CATEGORIES: tuple[str, ...] = ("tiles", "plate", "disk")
DEFECT_KINDS: tuple[str, ...] = ("scratch", "stain", "hole", "color")
MIN_SIZE = 32

# category -> (texture, defect types); other category names get a texture picked by crc32 of
# the name and every defect kind.
_CATEGORY_STYLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tiles": ("checker", ("color", "hole", "scratch")),
    "plate": ("brushed", ("hole", "scratch", "stain")),
    "disk": ("disk", ("color", "scratch", "stain")),
}
_TEXTURES = ("checker", "brushed", "disk")
_SPLIT_CODES = {"train": 0, "test": 1}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BORDER_EVERY = 3  # anomalous image i touches a border when i % 3 == 2
_MAX_TRIES = 64


# --------------------------------------------------------------------------------------------
# public API


def category_defects(category: str) -> tuple[str, ...]:
    """Defect types generated for ``category`` (sorted)."""
    return _style(category)[1]


def generate(
    root: str | os.PathLike[str],
    categories: Sequence[str] | None = DEFAULT_CATEGORIES,
    seed: int = 0,
    size: int | tuple[int, int] = 128,
    *,
    n_train: int = 24,
    n_test_good: int = 8,
    n_test_bad_per_defect: int = 4,
) -> Path:
    """Write a deterministic MVTec-layout dataset under ``root`` and return ``Path(root)``.

    Parameters
    ----------
    root : path
        Output directory; created if missing. Other entries in it are left alone.
    categories : sequence of str, optional
        Category names (``None``: :data:`DEFAULT_CATEGORIES`). ``tiles``, ``plate`` and
        ``disk`` have fixed styles; any other simple name (letters, digits, ``_ . -``) gets a
        texture chosen from its name and all defect kinds.
    seed : int
        Non-negative seed; same parameters give the same bytes.
    size : int or (height, width)
        Image size in pixels, at least 32 per side.
    n_train, n_test_good, n_test_bad_per_defect : int
        Images per category in ``train/good`` (>= 1), ``test/good`` (>= 1) and per defect type
        in ``test/<defect>`` (>= 1).

    Returns
    -------
    Path
        ``root``.

    Notes
    -----
    Idempotent: when ``root/synthetic.json`` records the same parameters, a complete run and
    every file it lists still exists, nothing is written. Otherwise the category directories
    named by the old manifest and the new call are replaced. A category directory that exists
    in a root *without* a manifest is not ours: :class:`DatasetError`, nothing is touched.

    Raises
    ------
    ConfigError
        Bad parameters (names, counts, size, seed).
    DatasetError
        ``root`` is a file, holds a foreign dataset with a clashing category, or has an
        unreadable manifest.
    """
    params = _validate(categories, seed, size, n_train, n_test_good, n_test_bad_per_defect)
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"synthetic dataset root {root} exists and is not a directory")
    manifest_path = root / MANIFEST_NAME
    old = _read_manifest(manifest_path)
    if old is not None and _is_complete(root, old, params):
        return root

    cats = params["categories"]
    if old is None:
        clashes = [str(root / c) for c in cats if (root / c).exists() or (root / c).is_symlink()]
        if clashes:
            raise DatasetError(
                f"refusing to overwrite {', '.join(clashes)}: {root} has no {MANIFEST_NAME}, so "
                "these directories were not written by pyimgano.datasets.synthetic; "
                "choose an empty root"
            )
    else:
        old_cats = old.get("params", {}).get("categories", [])
        for name in sorted(set(cats) | {c for c in old_cats if isinstance(c, str)}):
            if _NAME_RE.match(name):
                _remove(root / name)

    root.mkdir(parents=True, exist_ok=True)
    _write_json(manifest_path, {"complete": False, "params": params})
    files: list[str] = []
    for category in cats:
        files.extend(_write_category(root, category, params))
    _write_json(manifest_path, {"complete": True, "files": sorted(files), "params": params})
    return root


def render_image(
    category: str,
    split: str,
    defect: str,
    index: int,
    *,
    seed: int = 0,
    size: int | tuple[int, int] = 128,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Render one image in memory, exactly as :func:`generate` writes it.

    Returns ``(image, mask, clean)``: ``image`` uint8 (H, W, 3); ``mask`` bool (H, W) of the
    defect pixels (``None`` for ``defect == "good"``); ``clean`` the same image before the
    defect was drawn (equal to ``image`` for good ones).
    """
    h, w = _size(size)
    if split not in _SPLIT_CODES:
        raise ConfigError(f"split must be one of {', '.join(_SPLIT_CODES)}, got {split!r}")
    ss = np.random.SeedSequence(
        [int(seed), _crc(category), _SPLIT_CODES[split], _crc(defect), int(index)]
    )
    tex_ss, def_ss = ss.spawn(2)
    texture = _style(category)[0]
    img, region = _TEXTURE_FUNCS[texture](np.random.default_rng(tex_ss), h, w)
    clean = _to_uint8(img)
    if defect == "good":
        return clean, None, clean
    touch = index % _BORDER_EVERY == _BORDER_EVERY - 1
    image, mask = _draw_defect(np.random.default_rng(def_ss), img, clean, region, defect, touch)
    return image, mask, clean


# --------------------------------------------------------------------------------------------
# parameters and manifest


def _style(category: str) -> tuple[str, tuple[str, ...]]:
    if category in _CATEGORY_STYLES:
        return _CATEGORY_STYLES[category]
    return _TEXTURES[_crc(category) % len(_TEXTURES)], tuple(sorted(DEFECT_KINDS))


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _size(size: int | tuple[int, int] | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, bool):
        raise ConfigError(f"size must be an int or (height, width), got {size!r}")
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    elif isinstance(size, Sequence) and len(size) == 2 and not isinstance(size, str):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size):
            raise ConfigError(f"size must be an int or (height, width) of ints, got {size!r}")
        h, w = int(size[0]), int(size[1])
    else:
        raise ConfigError(f"size must be an int or (height, width), got {size!r}")
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ConfigError(f"size must be at least {MIN_SIZE} pixels per side, got {size!r}")
    return h, w


def _validate(
    categories: Sequence[str] | None,
    seed: int,
    size: int | tuple[int, int],
    n_train: int,
    n_test_good: int,
    n_test_bad_per_defect: int,
) -> dict:
    if categories is None:
        categories = DEFAULT_CATEGORIES
    if isinstance(categories, str):
        categories = (categories,)
    cats = list(categories)
    if not cats:
        raise ConfigError("categories must name at least one category")
    for name in cats:
        if not isinstance(name, str) or not _NAME_RE.match(name) or name == MANIFEST_NAME:
            raise ConfigError(
                f"category name {name!r} must be a simple name (letters, digits, '_', '.', '-')"
            )
    if len(set(cats)) != len(cats):
        raise ConfigError(f"categories must be unique, got {cats!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    counts = {
        "n_train": n_train,
        "n_test_good": n_test_good,
        "n_test_bad_per_defect": n_test_bad_per_defect,
    }
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{key} must be an int >= 1, got {value!r}")
        if value > 1000:
            raise ConfigError(f"{key} must be at most 1000 (3-digit file names), got {value!r}")
    h, w = _size(size)
    return {
        "categories": cats,
        "format": "mvtec",
        "generator_version": GENERATOR_VERSION,
        "n_test_bad_per_defect": int(n_test_bad_per_defect),
        "n_test_good": int(n_test_good),
        "n_train": int(n_train),
        "seed": int(seed),
        "size": [h, w],
    }


def _read_manifest(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(
            f"cannot read synthetic manifest {path}: {exc}; delete it or choose another root"
        ) from exc
    if not isinstance(data, dict):
        raise DatasetError(f"synthetic manifest {path} must hold a JSON object")
    return data


def _is_complete(root: Path, manifest: dict, params: dict) -> bool:
    if manifest.get("params") != params or manifest.get("complete") is not True:
        return False
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        return False
    return all(isinstance(f, str) and (root / f).is_file() for f in files)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _write_category(root: Path, category: str, params: dict) -> list[str]:
    seed, size = params["seed"], tuple(params["size"])
    written: list[str] = []

    def put(rel: str, array: np.ndarray) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_png_bytes(array))
        written.append(rel)

    for split, n in (("train", params["n_train"]), ("test", params["n_test_good"])):
        for i in range(n):
            image, _, _ = render_image(category, split, "good", i, seed=seed, size=size)
            put(f"{category}/{split}/good/{i:03d}.png", image)
    for defect in category_defects(category):
        for i in range(params["n_test_bad_per_defect"]):
            image, mask, _ = render_image(category, "test", defect, i, seed=seed, size=size)
            assert mask is not None
            put(f"{category}/test/{defect}/{i:03d}.png", image)
            put(f"{category}/ground_truth/{defect}/{i:03d}_mask.png", mask.astype(np.uint8) * 255)
    return written


# --------------------------------------------------------------------------------------------
# PNG encoding (deterministic, zlib-build independent)


def _png_bytes(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W) grayscale or (H, W, 3) RGB array, stored deflate blocks."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = array.shape[:2]
    color_type = 0 if array.ndim == 2 else 2
    rows = array.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0
    blocks = []
    limit = 65535
    for start in range(0, max(len(raw), 1), limit):
        chunk = raw[start : start + limit]
        final = 1 if start + limit >= len(raw) else 0
        blocks.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    stream = b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(raw) & 0xFFFFFFFF)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------------------------
# textures: (rng, h, w) -> (float image (H, W, 3) in ~[0, 1], bool region for defect centres)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return yy + 0.5, xx + 0.5


def _smooth_noise(
    rng: np.random.Generator, h: int, w: int, cell_y: float, cell_x: float
) -> np.ndarray:
    """Bilinearly interpolated Gaussian noise with the given cell size in pixels, ~N(0, 0.5)."""
    gh, gw = int(math.ceil(h / cell_y)) + 2, int(math.ceil(w / cell_x)) + 2
    grid = rng.standard_normal((gh, gw))
    y = (np.arange(h) + 0.5) / cell_y
    x = (np.arange(w) + 0.5) / cell_x
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    g00 = grid[np.ix_(y0, x0)]
    g01 = grid[np.ix_(y0, x0 + 1)]
    g10 = grid[np.ix_(y0 + 1, x0)]
    g11 = grid[np.ix_(y0 + 1, x0 + 1)]
    return (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy


def _checker(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    s = min(h, w) / 128
    yy, xx = _grid(h, w)
    period = 24 * s * rng.uniform(0.95, 1.05)
    ox, oy = rng.uniform(0, period, 2)
    X, Y = xx + ox, yy + oy
    parity = (np.floor(X / period) + np.floor(Y / period)) % 2 == 1
    c0 = np.array([0.80, 0.72, 0.60]) + rng.uniform(-0.02, 0.02, 3)
    c1 = np.array([0.58, 0.47, 0.36]) + rng.uniform(-0.02, 0.02, 3)
    grout_c = np.array([0.42, 0.40, 0.38]) + rng.uniform(-0.02, 0.02, 3)
    g = max(1.0, 2 * s)
    grout = (np.mod(X, period) < g) | (np.mod(Y, period) < g)
    img = np.where(parity[..., None], c1, c0)
    img = np.where(grout[..., None], grout_c, img)
    img = img * (1 + 0.06 * _smooth_noise(rng, h, w, 16 * s, 16 * s))[..., None]
    img = img + 0.015 * rng.standard_normal((h, w, 1))
    return img, np.ones((h, w), bool)


def _brushed(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    s = min(h, w) / 128
    yy, xx = _grid(h, w)
    base = np.array([0.60, 0.63, 0.67]) + rng.uniform(-0.02, 0.02, 3)
    p1, p2 = 7 * s * rng.uniform(0.9, 1.1), 19 * s * rng.uniform(0.9, 1.1)
    f1, f2 = rng.uniform(0, 2 * np.pi, 2)
    stripes = 0.035 * np.sin(2 * np.pi * yy / p1 + f1) + 0.025 * np.sin(2 * np.pi * yy / p2 + f2)
    streaks = 0.05 * _smooth_noise(rng, h, w, 1.5 * s, 24 * s)
    slope = rng.uniform(-0.06, 0.06) * (xx / w - 0.5)
    lum = 1 + stripes + streaks + slope
    img = base * lum[..., None] + 0.012 * rng.standard_normal((h, w, 1))
    return img, np.ones((h, w), bool)


def _disk(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    s = min(h, w) / 128
    yy, xx = _grid(h, w)
    bg = np.array([0.16, 0.18, 0.22]) + rng.uniform(-0.015, 0.015, 3)
    copper = np.array([0.86, 0.60, 0.36]) + rng.uniform(-0.02, 0.02, 3)
    cy = h / 2 + rng.uniform(-2, 2) * s
    cx = w / 2 + rng.uniform(-2, 2) * s
    r0 = 0.40 * min(h, w) * rng.uniform(0.98, 1.02)
    r = np.hypot(yy - cy, xx - cx)
    inside = r <= r0
    rings = 0.04 * np.sin(2 * np.pi * r / (5 * s * rng.uniform(0.95, 1.05)) + rng.uniform(0, 7))
    shade = 1 - 0.25 * (r / r0) ** 2 + rings
    noise = _smooth_noise(rng, h, w, 12 * s, 12 * s)
    img = np.where(inside[..., None], copper * shade[..., None], bg * (1 + 0.1 * noise)[..., None])
    img = img + 0.012 * rng.standard_normal((h, w, 1))
    return img, r <= 0.75 * r0


_TEXTURE_FUNCS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "checker": _checker,
    "brushed": _brushed,
    "disk": _disk,
}


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# defects: shapes (bool masks with hard edges) and how they are painted


def _segment_distance(yy: np.ndarray, xx: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    d = q - p
    denom = float(d @ d) or 1e-12
    t = np.clip(((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / denom, 0.0, 1.0)
    return np.hypot(yy - (p[0] + t * d[0]), xx - (p[1] + t * d[1]))


def _shape_scratch(
    rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, c: np.ndarray, s: float
) -> np.ndarray:
    length = rng.uniform(0.25, 0.45) * min(yy.shape)
    angle = rng.uniform(0, np.pi)
    u = np.array([np.sin(angle), np.cos(angle)])
    normal = np.array([u[1], -u[0]])
    a, b = c - u * length / 2, c + u * length / 2
    ctrl = c + normal * rng.uniform(-0.2, 0.2) * length
    t = np.linspace(0, 1, 9)[:, None]
    pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * ctrl + t**2 * b
    half_width = rng.uniform(0.8, 1.3) * s
    dist = np.full(yy.shape, np.inf)
    for p, q in zip(pts[:-1], pts[1:], strict=True):
        dist = np.minimum(dist, _segment_distance(yy, xx, p, q))
    return dist <= half_width


def _shape_stain(
    rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, c: np.ndarray, s: float
) -> np.ndarray:
    mask = np.zeros(yy.shape, bool)
    for _ in range(int(rng.integers(3, 6))):
        off = rng.uniform(-6, 6, 2) * s
        radius = rng.uniform(4, 8) * s
        mask |= np.hypot(yy - c[0] - off[0], xx - c[1] - off[1]) <= radius
    return mask


def _shape_hole(
    rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, c: np.ndarray, s: float
) -> np.ndarray:
    a, b = rng.uniform(5, 10, 2) * s
    angle = rng.uniform(0, np.pi)
    u = (yy - c[0]) * np.cos(angle) + (xx - c[1]) * np.sin(angle)
    v = -(yy - c[0]) * np.sin(angle) + (xx - c[1]) * np.cos(angle)
    if rng.uniform() < 0.5:
        return (np.abs(u) <= a) & (np.abs(v) <= b)
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def _shape_color(
    rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, c: np.ndarray, s: float
) -> np.ndarray:
    a, b = rng.uniform(4.5, 8, 2) * s
    angle = rng.uniform(0, np.pi)
    u = (yy - c[0]) * np.cos(angle) + (xx - c[1]) * np.sin(angle)
    v = -(yy - c[0]) * np.sin(angle) + (xx - c[1]) * np.cos(angle)
    return (u / a) ** 2 + (v / b) ** 2 <= 1


_SHAPES = {
    "scratch": _shape_scratch,
    "stain": _shape_stain,
    "hole": _shape_hole,
    "color": _shape_color,
}
_PALETTE = np.array([[0.85, 0.15, 0.15], [0.15, 0.55, 0.85], [0.20, 0.75, 0.25]])


def _paint(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, kind: str) -> np.ndarray:
    out = img.copy()
    lum = float(img[mask].mean())
    h, w = mask.shape
    if kind == "scratch":
        target, alpha = (0.10 if lum > 0.5 else 0.90), 0.7
        out[mask] = img[mask] * (1 - alpha) + target * alpha
    elif kind == "stain":
        tint = np.array([0.32, 0.22, 0.10]) if lum > 0.45 else np.array([0.62, 0.52, 0.28])
        out[mask] = img[mask] * 0.5 + tint * 0.5
    elif kind == "hole":
        fill = 0.04 if lum > 0.3 else 0.50
        grain = 0.02 * rng.standard_normal((h, w, 1))
        out[mask] = (fill + grain)[mask]
    else:
        color = _PALETTE[int(rng.integers(len(_PALETTE)))]
        out[mask] = img[mask] * 0.35 + color * 0.65
    return out


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _draw_defect(
    rng: np.random.Generator,
    img: np.ndarray,
    clean: np.ndarray,
    region: np.ndarray,
    kind: str,
    touch_border: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one defect; the returned mask equals the set of pixels whose uint8 value changed."""
    if kind not in _SHAPES:
        raise ConfigError(f"unknown defect kind {kind!r}; expected one of {DEFECT_KINDS}")
    h, w = region.shape
    s = max(min(h, w) / 128, 0.5)  # defects never shrink below half their 128-px size
    yy, xx = _grid(h, w)
    candidates = np.argwhere(region)
    min_area = max(6, int(0.001 * h * w))
    max_area = int(0.12 * h * w)
    for _ in range(_MAX_TRIES):
        if touch_border:
            side = int(rng.integers(4))
            along = rng.uniform(0.15, 0.85) * (w if side < 2 else h)
            depth = rng.uniform(1, 5) * s
            if side == 0:
                centre = np.array([depth, along])
            elif side == 1:
                centre = np.array([h - depth, along])
            elif side == 2:
                centre = np.array([along, depth])
            else:
                centre = np.array([along, w - depth])
        else:
            margin = 10 * s
            centre = candidates[int(rng.integers(len(candidates)))] + 0.5
            centre = np.clip(centre, margin, [h - margin, w - margin])
        shape = _SHAPES[kind](rng, yy, xx, centre, s)
        if not min_area <= int(shape.sum()) <= max_area:
            continue
        if touch_border != _touches_border(shape):
            continue
        image = _to_uint8(_paint(rng, img, shape, kind))
        changed = (image != clean).any(axis=-1)
        # Hard-edged painting changes every covered pixel in practice; a pixel that happens to
        # round to its old value is dropped from the mask so the mask stays exact.
        mask = shape & changed
        if int(mask.sum()) >= min_area and touch_border == _touches_border(mask):
            return image, mask
    raise RuntimeError(f"could not place a {kind} defect in {_MAX_TRIES} tries")  # not seen
