"""Suite scenarios of the catalogue: case id → ``build(dir, base_data) -> suite text``.

``build`` may write data under ``dir`` (usually a broken copy of the base dataset) and returns
the suite YAML; every scenario becomes ``suites/<case_id with _>.yaml`` of one child session
(:func:`tests.bad_inputs.helpers.run_plugin_batch`). The tests reuse the data the builders
wrote (``plugin_batch.data(case_id)``) for the case's CLI/API side.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.bad_inputs.fakes import NAME as FAKE

#: ``${UNSET_VAR}`` is removed from the child's environment, ``${SET_VAR}`` is the child's dir.
UNSET_VAR = "PYIMGANO_BAD_UNSET"
SET_VAR = "PYIMGANO_BAD_SET"
CATEGORY = "tiles"
#: marker file a refused python tag would create (relative to the child's dir).
TAG_MARKER = "python-tag-was-executed"

Builder = Callable[[Path, Path], str]
SCENARIOS: dict[str, Builder] = {}


def set_var(child_dir: Path) -> dict[str, str]:
    return {SET_VAR: str(child_dir)}


def scenario(case_id: str) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        assert case_id not in SCENARIOS, case_id
        SCENARIOS[case_id] = build
        return build

    return register


def fake_suite(
    root: Path | str,
    *,
    categories: str = f"[{CATEGORY}]",
    defaults: str = "",
    model: str = "",
    top: str = "",
    dataset: str = "",
) -> str:
    """A one-model suite of the fake detector; the keyword arguments add YAML lines."""

    def block(text: str, indent: str) -> str:
        text = textwrap.dedent(text).strip("\n")
        return textwrap.indent(text, indent) + "\n" if text else ""

    return (
        "pyimgano_suite: 1\n"
        + block(top, "")
        + "defaults:\n  batch_size: 4\n"
        + block(defaults, "  ")
        + "datasets:\n  syn:\n    format: mvtec\n"
        + f"    root: '{root}'\n"
        + block(dataset, "    ")
        + "models:\n"
        + f"  - id: fake\n    model: {FAKE}\n    dataset: syn\n    categories: {categories}\n"
        + block(model, "    ")
    )


def copy_base(dest: Path, base: Path) -> Path:
    """``dest`` becomes a copy of the base dataset; returns it (the dataset root)."""
    shutil.copytree(base, dest, dirs_exist_ok=True)
    return dest


def images_dir(root: Path) -> Path:
    return root / CATEGORY / "test"


def masks_dir(root: Path) -> Path:
    return root / CATEGORY / "ground_truth"


# ------------------------------------------------------------------------------------------
# suite files (collection errors)


@scenario("suite.not_yaml")
def _not_yaml(d: Path, base: Path) -> str:
    return "pyimgano_suite: 1\ndatasets:\n  syn: {format: mvtec, root: x\nmodels: []\n"


@scenario("suite.not_mapping")
def _not_mapping(d: Path, base: Path) -> str:
    return fake_suite(base).split("models:\n")[0] + f"models:\n  - {FAKE}\n"


@scenario("suite.version")
def _version(d: Path, base: Path) -> str:
    return fake_suite(base).replace("pyimgano_suite: 1", "pyimgano_suite: 2")


@scenario("suite.unknown_key")
def _unknown_key(d: Path, base: Path) -> str:
    return fake_suite(base, defaults="pixle: true")


@scenario("suite.wrong_type")
def _wrong_type(d: Path, base: Path) -> str:
    return fake_suite(base).replace("batch_size: 4", "batch_size: sixteen")


@scenario("suite.unknown_metric")
def _unknown_metric(d: Path, base: Path) -> str:
    return fake_suite(base, model="thresholds: {image_aucroc: 0.9}")


@scenario("suite.min_above_max")
def _min_above_max(d: Path, base: Path) -> str:
    return fake_suite(base, model="thresholds: {image_auroc: {min: 0.9, max: 0.5}}")


@scenario("suite.unknown_dataset")
def _unknown_dataset(d: Path, base: Path) -> str:
    return fake_suite(base).replace("dataset: syn", "dataset: mvtek")


@scenario("suite.unknown_model")
def _unknown_model(d: Path, base: Path) -> str:
    return fake_suite(base).replace(f"model: {FAKE}", "model: bad_fak")


@scenario("suite.duplicate_id")
def _duplicate_id(d: Path, base: Path) -> str:
    text = fake_suite(base)
    return text + text.split("models:\n")[1]


@scenario("suite.duplicate_key")
def _duplicate_key(d: Path, base: Path) -> str:
    return fake_suite(base, model="thresholds: {image_auroc: 0.5}\nthresholds: {image_ap: 0.5}")


@scenario("suite.python_tag")
def _python_tag(d: Path, base: Path) -> str:
    marker = d.parent.parent / TAG_MARKER
    return fake_suite(base, top=f"name: !!python/object/apply:os.system ['touch {marker}']")


@scenario("suite.bad_value")
def _bad_value(d: Path, base: Path) -> str:
    return fake_suite(base, top="name: 2001-02-30")


@scenario("suite.unselected_category")
def _unselected_category(d: Path, base: Path) -> str:
    return fake_suite(base, model="thresholds:\n  per_category: {disk: {image_auroc: 0.5}}")


@scenario("kwargs.non_finite")
def _kwargs_non_finite(d: Path, base: Path) -> str:
    return fake_suite(base, model="model_kwargs: {at: .nan}")


@scenario("device.unknown")
def _device_unknown(d: Path, base: Path) -> str:
    return fake_suite(base, defaults="device: gpu")


# ------------------------------------------------------------------------------------------
# items


@scenario("suite.var_unset")
def _var_unset(d: Path, base: Path) -> str:
    return fake_suite(f"${{{UNSET_VAR}}}/data")


@scenario("suite.path_missing")
def _path_missing(d: Path, base: Path) -> str:
    return fake_suite(f"${{{SET_VAR}}}/no-such-data")


@scenario("kwargs.unknown_key")
def _kwargs_unknown_key(d: Path, base: Path) -> str:
    return fake_suite(base, model="model_kwargs: {fualt: nan_score}")


@scenario("dataset.root_missing")
def _root_missing(d: Path, base: Path) -> str:
    return fake_suite(d / "missing-root")


@scenario("dataset.category_missing")
def _category_missing(d: Path, base: Path) -> str:
    return fake_suite(base, categories="[tilez]")


@scenario("dataset.no_label_folders")
def _no_label_folders(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    shutil.rmtree(images_dir(root))
    images_dir(root).mkdir()
    return fake_suite(root)


@scenario("dataset.empty_folder")
def _empty_folder(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    for image in (images_dir(root) / "hole").iterdir():
        image.unlink()
    return fake_suite(root)


@scenario("dataset.mask_missing")
def _mask_missing(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    (masks_dir(root) / "hole" / "000_mask.png").unlink()
    return fake_suite(root, defaults="pixel: true")


@scenario("dataset.mask_size")
def _mask_size(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    mask = masks_dir(root) / "hole" / "000_mask.png"
    with Image.open(mask) as image:
        image.resize((32, 24)).save(mask)
    return fake_suite(root, defaults="pixel: true")


@scenario("dataset.dangling_symlink")
def _dangling_symlink(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    (images_dir(root) / "good" / "999.png").symlink_to(d / "gone.png")
    return fake_suite(root)


@scenario("dataset.fingerprint_mismatch")
def _fingerprint_mismatch(d: Path, base: Path) -> str:
    return fake_suite(base, dataset=f"fingerprint: {{{CATEGORY}: '{'0' * 64}'}}")


def _fault(fault: str, extra: str = "") -> Builder:
    def build(d: Path, base: Path) -> str:
        return fake_suite(base, model=f"model_kwargs: {{fault: {fault}}}\n{extra}")

    return build


for _case, _name in (
    ("output.nan_score", "nan_score"),
    ("output.nan_map", "inf_map"),
    ("output.map_not_2d", "map_3d"),
    ("output.score_missing", "skip"),
    ("output.no_score_field", "no_score"),
):
    scenario(_case)(_fault(_name))
scenario("output.constant_scores")(_fault("constant", "thresholds: {image_auroc: 0.6}"))


@scenario("metrics.only_normal")
def _only_normal(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    for folder in images_dir(root).iterdir():
        if folder.name != "good":
            shutil.rmtree(folder)
    return fake_suite(root, model="thresholds: {image_auroc: 0.5}")


@scenario("metrics.only_anomalous")
def _only_anomalous(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    shutil.rmtree(images_dir(root) / "good")
    return fake_suite(root, model="thresholds: {image_auroc: 0.5}")


@scenario("metrics.masks_all_zero")
def _masks_all_zero(d: Path, base: Path) -> str:
    root = copy_base(d, base)
    for mask in masks_dir(root).rglob("*.png"):
        with Image.open(mask) as image:
            size = image.size
        Image.fromarray(np.zeros(size[::-1], np.uint8)).save(mask)
    return fake_suite(root, defaults="pixel: true", model="thresholds: {pixel_auroc: 0.5}")


@scenario("checkpoint.missing")
def _checkpoint_missing(d: Path, base: Path) -> str:
    text = fake_suite(base).replace(f"model: {FAKE}", "model: vision_padim_anomalib")
    return text + f"    checkpoint: '{d}/{{category}}/model.pt'\n    sha256: '{'0' * 64}'\n"


@scenario("interrupt.model_crash")
def _model_crash(d: Path, base: Path) -> str:
    """Two entries: ``fake`` behaves, ``crash`` raises RuntimeError on its second image."""
    return fake_suite(base) + (
        f"  - id: crash\n    model: {FAKE}\n    dataset: syn\n    categories: [{CATEGORY}]\n"
        "    model_kwargs: {fault: crash}\n"
    )


# ------------------------------------------------------------------------------------------
# partial maps, device memory, export parity (their own block)

scenario("output.some_maps_missing")(_fault("no_map", "pixel: true"))
scenario("device.out_of_memory")(_fault("oom"))


def parity_suite(d: Path, base: Path, artifact: str, parity: str, *, reference: bool = True,
                 labels: bool = False) -> str:
    """A one-entry suite of the export-parity fake: ``artifact`` is its checkpoint's text, the
    reference's is ``0`` (see :class:`tests.fakes.CheckpointFakeDetector`)."""
    from tests.bad_inputs.fakes import PARITY_NAME

    (d / "artifact.txt").write_text(artifact, "utf-8")
    (d / "reference.txt").write_text("0", "utf-8")
    lines = [f"checkpoint: '{d / 'artifact.txt'}'"]
    if reference:
        lines.append(f"reference: '{d / 'reference.txt'}'")
    if labels:
        lines.append("model_kwargs: {labels: true}")
    lines.append(f"parity: {parity}")
    return fake_suite(base, model="\n".join(lines)).replace(f"model: {FAKE}",
                                                              f"model: {PARITY_NAME}")


@scenario("parity.bound_exceeded")
def _parity_bound_exceeded(d: Path, base: Path) -> str:
    return parity_suite(d, base, "0.01", "{score: 1.0e-3}")


@scenario("parity.degenerate")
def _parity_degenerate(d: Path, base: Path) -> str:
    return parity_suite(d, base, "constant", "{score: 100}")


@scenario("parity.null_bound")
def _parity_null_bound(d: Path, base: Path) -> str:
    return parity_suite(d, base, "0", "{decisions: 0}")


@scenario("parity.unknown_bound")
def _parity_unknown_bound(d: Path, base: Path) -> str:
    return parity_suite(d, base, "0", "{scor: 1.0e-3}")


@scenario("parity.bad_bound")
def _parity_bad_bound(d: Path, base: Path) -> str:
    return parity_suite(d, base, "0", "{score: -1}")


@scenario("parity.suite_needs_reference")
def _parity_needs_reference(d: Path, base: Path) -> str:
    return parity_suite(d, base, "0", "{score: 1.0e-3}", reference=False)
