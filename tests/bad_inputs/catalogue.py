"""The bad-input catalogue: every kind of broken input pyimgano must refuse, as data.

Each :class:`Case` says what the input is, which error it gives (type and message), what the
error means and what to do. The tests in this package (one per case, marked with
:func:`covers`) feed the input to pyimgano and check the outcome against the case with
:meth:`Case.check`; ``docs/ERRORS.md`` is rendered from this list
(``python -m tests.bad_inputs.render > docs/ERRORS.md``) and a test keeps it up to date.

Message templates: ``{name}`` stands for a value the test supplies (a path, a key), ``...`` for
any text. A message matches when the template, with those values filled in, occurs in it.
Cases with ``error=None`` fail or skip without an exception of their own (pytest's skip/fail,
an interrupt), or, with ``where=(ACCEPTED,)``, are inputs accepted on purpose; for those the
message says what happens instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyimgano.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    DeviceError,
    GateFailure,
    MetricInputError,
    ModelOutputError,
    ReportError,
    SuiteError,
)
from pyimgano.protocols.submission import SubmissionError

#: Areas in page order, with their headings.
AREAS = {
    "suite": "Suite files (pytest plugin)",
    "kwargs": "Model kwargs (`--model-kwargs`, suite `model_kwargs`)",
    "dataset": "Datasets",
    "output": "Model output",
    "metrics": "Metrics",
    "memory": "Memory budget (`--memory-budget`, suite `memory_budget`)",
    "protocol": "Evaluation protocols (`--protocol`, MVTec AD 2 calibration and submission)",
    "checkpoint": "Checkpoints",
    "device": "Devices",
    "export": "Exported artifacts (ONNX, OpenVINO)",
    "parity": "Export parity (`reference`, `parity`)",
    "report": "Report directories",
    "interrupt": "Interruptions and crashes",
    "concurrency": "Concurrent runs",
}

#: How an error reaches the user.
COLLECT = "collection error"
ITEM = "item fails"
CLI = "CLI exit 2"
SKIP = "item skipped"
API = "raised"
#: An input accepted on purpose (listed under "Not errors").
ACCEPTED = "accepted"

_TOKEN = re.compile(r"(\{\w+\}|\.\.\.)")


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    id : str
        ``<area>.<name>``; the test covering it carries ``@covers(id)``.
    input : str
        The input, in words (Markdown).
    error : exception type or None
        The exact type raised by the library (``None``: accepted on purpose).
    where : tuple of str
        How it surfaces: :data:`COLLECT`, :data:`ITEM`, :data:`CLI`, :data:`SKIP`, :data:`API`;
        :data:`ACCEPTED` for an input accepted on purpose.
    message : str
        Message template (see the module docstring); for accepted cases what happens instead.
    meaning, fix : str
        What the error means and what to do (Markdown).
    """

    id: str
    input: str
    error: type[BaseException] | None
    where: tuple[str, ...]
    message: str
    meaning: str
    fix: str

    @property
    def accepted(self) -> bool:
        return ACCEPTED in self.where

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    def pattern(self, **values: Any) -> re.Pattern[str]:
        """The message template as a regex, ``values`` filled in literally."""
        parts = []
        for token in _TOKEN.split(self.message):
            if token == "...":
                parts.append(".*?")
            elif _TOKEN.fullmatch(token):
                parts.append(re.escape(str(values[token[1:-1]])))
            else:
                parts.append(re.escape(token))
        return re.compile("".join(parts), re.S)

    def check(self, message: str, **values: Any) -> str:
        """Assert that ``message`` matches the template; returns it."""
        assert self.pattern(**values).search(message), (
            f"{self.id}: message does not match the catalogue\n  template: {self.message}\n"
            f"  values:   {values}\n  message:  {message}"
        )
        return message

    def check_error(self, error: BaseException, **values: Any) -> str:
        """Assert the exact error type and the message; a one-line message without traceback."""
        assert self.error is not None, f"{self.id} is an accepted case"
        assert type(error) is self.error, (
            f"{self.id}: expected {self.error.__name__}, got {type(error).__name__}: {error}"
        )
        message = str(error)
        assert "Traceback" not in message
        return self.check(message, **values)

    @property
    def shown(self) -> str:
        """The template for people: ``{path}`` becomes ``<path>``, ``...`` an ellipsis."""
        return _TOKEN.sub(lambda m: "…" if m.group(0) == "..." else f"<{m.group(0)[1:-1]}>",
                          self.message)


_CASES = [
    # ------------------------------------------------------------------ suite files
    Case(
        "suite.not_yaml",
        "A file with a top-level `pyimgano_suite:` line that is not valid YAML",
        SuiteError, (COLLECT,),
        "{suite}: not valid YAML: ... line {line}",
        "The file claims to be a suite but cannot be parsed; nothing of it runs.",
        "Fix the YAML syntax at the line shown (indentation, an unclosed `[`/`{`, a tab).",
    ),
    Case(
        "suite.not_mapping",
        "A section that must be a mapping is something else (`models: [padim]`, "
        "`datasets: [a, b]`, `thresholds: 0.9`)",
        SuiteError, (COLLECT,),
        "{suite}: {key}: expected a mapping, got {got}",
        "The key path names the entry whose type is wrong.",
        "Write the entry as `key: value` pairs (e.g. `- id: x` / `model: ...` for a model).",
    ),
    Case(
        "suite.version",
        "`pyimgano_suite:` other than `1`",
        SuiteError, (COLLECT,),
        "{suite}: pyimgano_suite: unsupported suite version {version}; expected 1",
        "The suite was written for another pyimgano format version.",
        "Set `pyimgano_suite: 1` and check the keys against docs/PLUGIN.md.",
    ),
    Case(
        "suite.unknown_key",
        "An unknown key at any level (top, `defaults`, a dataset, a model, `snapshot`, "
        "a `{min, max}` bound)",
        SuiteError, (COLLECT,),
        "{suite}: {key}: unknown key...{name}; allowed keys: ...",
        "A typo or a key of another version; pyimgano never ignores a key.",
        "Use one of the allowed keys listed in the message.",
    ),
    Case(
        "suite.wrong_type",
        "A value of the wrong type (`batch_size: sixteen`, `pixel: \"no\"`, "
        "`categories: tiles`, a threshold given as a string)",
        SuiteError, (COLLECT,),
        "{suite}: {key}: expected {expected}, got {got}",
        "The value at the key path cannot be used as that option.",
        "Give a value of the expected type (the message says which).",
    ),
    Case(
        "suite.unknown_metric",
        "A threshold or snapshot tolerance on a metric that does not exist (`image_aucroc`)",
        SuiteError, (COLLECT,),
        "{suite}: {key}: unknown metric {name}; allowed...: ...",
        "A typo in a metric name would otherwise leave the metric ungated.",
        "Use a metric name from the list in the message (REFERENCE.md §5, §8).",
    ),
    Case(
        "suite.min_above_max",
        "A bound whose `min` is greater than its `max`",
        SuiteError, (COLLECT,),
        "{suite}: {key}: min {low} is greater than max {high}",
        "No value can pass such a bound.",
        "Swap or correct the two limits.",
    ),
    Case(
        "suite.unknown_dataset",
        "A model entry's `dataset:` names no entry of `datasets:`",
        SuiteError, (COLLECT,),
        "{suite}: {key}: unknown dataset {name}; datasets: {known}",
        "The model cannot be evaluated on an undefined dataset.",
        "Use one of the dataset names listed, or define the dataset.",
    ),
    Case(
        "suite.unknown_model",
        "A model entry's `model:` is not a registered model name",
        SuiteError, (COLLECT,),
        "{suite}: {key}: unknown model {name}; did you mean ...?",
        "The registry has no such model (often a typo).",
        "Use a name from `pyimgano.models.list_models()` (close names are suggested).",
    ),
    Case(
        "suite.duplicate_id",
        "Two model entries with the same `id`",
        SuiteError, (COLLECT,),
        "{suite}: models[1].id: duplicate model id {name} (also models[0])",
        "Both would write the same reports and snapshots.",
        "Give every model entry its own `id`.",
    ),
    Case(
        "suite.duplicate_key",
        "The same key twice in one mapping (e.g. two `thresholds:`)",
        SuiteError, (COLLECT,),
        "{suite} (line {line}): found duplicate key {name}",
        "YAML would silently keep only the last value.",
        "Merge the two entries into one.",
    ),
    Case(
        "suite.python_tag",
        "A YAML tag that would construct a Python object "
        "(`!!python/object/apply:os.system [...]`)",
        SuiteError, (COLLECT,),
        "{suite} (line {line}): YAML tag refused: ... suites are plain data",
        "Suites are read with safe loading only; nothing of the file was executed.",
        "Remove the tag; write plain YAML values.",
    ),
    Case(
        "suite.bad_value",
        "A YAML value that cannot be built (an invalid date such as `2001-02-30`, an integer "
        "of over 4300 digits, thousands of nested `[`)",
        SuiteError, (COLLECT,),
        "{suite}: YAML value cannot be read: {detail}",
        "The YAML parser accepted the syntax but could not build the value.",
        "Quote the value if it is meant as text; otherwise correct it.",
    ),
    Case(
        "suite.unselected_category",
        "A `per_category`, `sha256` or `fingerprint` key for a category the entry does not "
        "select",
        SuiteError, (COLLECT,),
        "{suite}: {key}: category {name} is not selected; selected categories: ...",
        "A bound or pin for a category that never runs would never be checked.",
        "Add the category to `categories:` or remove the key.",
    ),
    Case(
        "suite.var_unset",
        "`${VAR}` in a dataset root, checkpoint or reference, with `VAR` unset (set but empty: "
        "the items fail, naming it)",
        None, (SKIP, ITEM),
        "environment variable ${{var}} is not set ({key})",
        "The item is skipped with this reason; under `--pyimgano-strict` it fails with "
        "`[--pyimgano-strict: skips fail]` added.",
        "Export the variable in the job, or run without `--pyimgano-strict` to allow the skip.",
    ),
    Case(
        "suite.path_missing",
        "`${VAR}` set, but the dataset root or checkpoint it points to does not exist",
        None, (ITEM,),
        "dataset {name} root (from {text}): {path} does not exist",
        "The item fails (never a skip): the data was expected and is not there.",
        "Fix the variable or the path; check the step that should have produced the data.",
    ),
    # ------------------------------------------------------------------ model kwargs
    Case(
        "kwargs.not_json",
        "`--model-kwargs` that is not a JSON object: invalid JSON, a list, an integer of over "
        "4300 digits, nesting thousands deep",
        ConfigError, (CLI,),
        "--model-kwargs: ...expected a JSON object...",
        "The constructor kwargs cannot be read.",
        "Pass one JSON object, e.g. `--model-kwargs '{\"anomalib_model\": \"padim\"}'`.",
    ),
    Case(
        "kwargs.non_finite",
        "`NaN`, `Infinity` or an overflowing number (`1e400`) in `--model-kwargs` or a suite's "
        "`model_kwargs`; a suite value that is not JSON data (a date, `!!binary`, `!!set`)",
        ConfigError, (CLI, COLLECT),
        "{where}: {value} is not allowed in model kwargs...",
        "Reports are strict JSON; such a value could not be recorded after the run.",
        "Use finite numbers, strings, booleans, null, lists and mappings only.",
    ),
    Case(
        "kwargs.wrong_type",
        "A backend option of the wrong type: a string for a boolean "
        "(`\"maps_on_device\": \"false\"`), a non-integer `decode_workers`",
        ConfigError, (CLI, ITEM),
        "{key}={value}: expected {expected}, got {type}",
        "A string is never read as a boolean (`\"false\"` would count as true); the torch, "
        "ONNX and OpenVINO backends check these keys by one rule.",
        "Use JSON `true` / `false` / `null` and integers.",
    ),
    Case(
        "kwargs.unknown_key",
        "A model kwarg the model's constructor does not take",
        ConfigError, (CLI, ITEM),
        "model {model} does not accept {name}; accepted keys: ...",
        "A misspelt option would otherwise be dropped or crash the model.",
        "Use one of the accepted keys listed.",
    ),
    Case(
        "kwargs.cache_dir_without_cache",
        "`cache_dir` in the model kwargs of an ONNX graph or a torch checkpoint "
        "(`.pt`/`.pth`/`.ckpt`)",
        ConfigError, (CLI, ITEM),
        "{ckpt}: 'cache_dir' not accepted for {fmt} checkpoints (...); cache_dir is OpenVINO's "
        "compiled-model cache; onnxruntime and torch keep no cache, so it would change nothing; "
        "accepted keys: ...",
        "Only OpenVINO keeps a compiled-model cache. A cache directory given for another format "
        "would silently change nothing, so it is refused; the plugin's own cache directory is "
        "passed only to OpenVINO models.",
        "Remove `cache_dir`, or use it with an OpenVINO IR (`.xml`).",
    ),
    # ------------------------------------------------------------------ datasets
    Case(
        "dataset.root_missing",
        "A dataset root that does not exist",
        DatasetError, (CLI, ITEM),
        "dataset ...root...{root} does not exist",
        "Nothing can be loaded from there.",
        "Fix `--root` / the suite's `root:` (or the variable it uses).",
    ),
    Case(
        "dataset.category_missing",
        "A category that is not a directory with the format's test layout under the root",
        DatasetError, (CLI, ITEM),
        "category {category} not in dataset mvtec at {root} (found: {found}): expected "
        "directory {test} (...)",
        "The name is misspelt or the data is incomplete.",
        "Use one of the categories listed (or `categories: all` in a suite).",
    ),
    Case(
        "dataset.no_label_folders",
        "A category whose `test/` directory is empty",
        DatasetError, (CLI, ITEM),
        "test directory {test} holds no label folders (...)",
        "There is nothing to evaluate.",
        "Copy the test images (`test/good`, `test/<defect>`), or fix the root.",
    ),
    Case(
        "dataset.empty_folder",
        "A test label folder (`test/good`, `test/<defect>`) without images",
        DatasetError, (CLI, ITEM),
        "test folder {folder} holds no images (extensions .png, .jpg, ...any case)",
        "An incomplete copy would silently change the metrics.",
        "Restore the images, or remove the empty folder if that defect type is gone.",
    ),
    Case(
        "dataset.empty_train",
        "An empty or missing `train/` folder",
        None, (ACCEPTED,),
        "accepted: train images are never read (pyimgano evaluates test images only)",
        "Training is not pyimgano's job.",
        "Nothing to do.",
    ),
    Case(
        "dataset.mask_missing",
        "An anomalous image without a ground-truth mask, pixel metrics asked for",
        DatasetError, (CLI, ITEM),
        "1 of {n} anomalous images of mvtec category {category} under {root} have no "
        "ground-truth mask, which pixel metrics need: {image}",
        "Pixel metrics are never computed against an all-zero stand-in mask.",
        "Restore the mask (`ground_truth/<defect>/<stem>_mask.png`) or turn `pixel` off.",
    ),
    Case(
        "dataset.mask_size",
        "A mask whose size differs from its image's",
        DatasetError, (CLI, ITEM),
        "mask {mask} is {mask_size} (WxH) but its image {image} is {image_size}; a mask must "
        "have its image's size (masks are never resized)",
        "The mask belongs to another image or was resized; pixel metrics would be wrong.",
        "Replace the mask with one of the image's size.",
    ),
    Case(
        "dataset.corrupt_image",
        "A truncated or corrupt image file (also a non-image file with an image extension)",
        DatasetError, (CLI,),
        "{image}: cannot decode image (...)",
        "The file is found when the checkpoint decodes it for inference; nothing is reported.",
        "Re-copy the file (compare against the pinned dataset fingerprint).",
    ),
    Case(
        "dataset.dangling_symlink",
        "An image-named symlink whose target does not exist",
        DatasetError, (CLI, ITEM),
        "image entry {path} is not a readable file (dangling symlink?)",
        "An image of the category is missing.",
        "Restore the link's target or remove the link.",
    ),
    Case(
        "dataset.fingerprint_mismatch",
        "A suite `fingerprint:` pin that does not match the files on disk",
        DatasetError, (ITEM,),
        "dataset mvtec:{category} at {root} has fingerprint {actual}, but the suite pins "
        "{pinned}: the data changed",
        "An image, mask or label differs from the data the pin was taken on.",
        "Find out what changed; re-pin only if the change is intended.",
    ),
    Case(
        "dataset.non_image_files",
        "Non-image files (`README.txt`, `Thumbs.db`, `.DS_Store`) and sub-folders in an image "
        "folder",
        None, (ACCEPTED,),
        "accepted: ignored (only .png .jpg .jpeg .bmp .tif .tiff files are images)",
        "They are not test images.",
        "Nothing to do.",
    ),
    Case(
        "dataset.extension_case",
        "Upper- or mixed-case extensions (`.PNG`, `.JPG`, `_mask.Png`)",
        None, (ACCEPTED,),
        "accepted: extensions are compared case-insensitively, for images and masks",
        "VisA ships `.JPG`.",
        "Nothing to do.",
    ),
    Case(
        "dataset.symlinks",
        "Symlinked dataset root, category, label folders or images",
        None, (ACCEPTED,),
        "accepted: links are followed; reports keep the paths as given",
        "Shared data is often linked into a job's workspace.",
        "Nothing to do.",
    ),
    Case(
        "dataset.folder_masks_ambiguous",
        "`folder` format: one image stem matching masks in several mask directories, with no "
        "mask folder named like the image's abnormal directory",
        DatasetError, (CLI, API),
        "several mask files match image {image}: {masks}; put each defect's masks in a folder "
        "named like its abnormal directory (mask_dir/<defect>/, or a mask_dir named <defect>), "
        "or give the masks distinct stems",
        "pyimgano cannot tell which defect's mask belongs to the image.",
        "Name the mask folders like the abnormal directories (`masks/crack/` for `crack/`).",
    ),
    Case(
        "dataset.folder_per_defect_masks",
        "`folder` format: masks in per-defect folders (`masks/<defect>/000_mask.png`), stems "
        "repeated across defects",
        None, (ACCEPTED,),
        "accepted: an image of abnormal directory `<defect>` takes its mask from "
        "`<mask_dir>/<defect>/` (or a mask_dir named `<defect>`)",
        "The natural layout of a custom dataset.",
        "Nothing to do.",
    ),
    Case(
        "dataset.folder_train_normals",
        "`folder` format without `normal_test_dir`",
        None, (ACCEPTED,),
        "accepted with a note: the normal test images are the `normal_dir` images; the "
        "dataset's `notes` say so (copied into the report) and a UserWarning is issued",
        "Those are usually the model's training images: image metrics are optimistic.",
        "Give `normal_test_dir` with held-out normal images.",
    ),
    Case(
        "dataset.loco_config_missing",
        "An `mvtec_loco` category without `defects_config.json`, AU-sPRO asked for",
        DatasetError, (API,),
        "mvtec_loco category {category} at {root} has no {path}, which AU-sPRO needs",
        "AU-sPRO saturates each defect at its type's threshold, which only that file gives.",
        "Copy the category's `defects_config.json` from the official MVTec LOCO AD release.",
    ),
    Case(
        "dataset.loco_config_invalid",
        "A malformed `defects_config.json` (not a list, a missing key, a pixel value outside "
        "1..255 or used twice, a relative threshold outside (0, 1])",
        DatasetError, (API,),
        "defects config {path}: {where}: expected {expected}",
        "The saturation thresholds cannot be read as the official evaluation reads them.",
        "Fix the entry named (or restore the official file).",
    ),
    Case(
        "dataset.loco_pixel_value",
        "An MVTec LOCO mask whose pixel value is not a `pixel_value` of `defects_config.json`",
        DatasetError, (API,),
        "mask {mask} has pixel value {value}, which {config} does not define "
        "(pixel_value of its entries: ...)",
        "The defect type of that mask, hence its saturation threshold, is unknown.",
        "Restore the mask or the config from the official release; they belong together.",
    ),
    Case(
        "dataset.split_file_entry",
        "A Real-IAD JSON split file whose `test` entry names an image or mask that does not "
        "exist, or a path leaving the root",
        DatasetError, (API,),
        "{file}: test[{index}].image_path: image {image} does not exist",
        "The split file and the images on disk do not belong together (another resolution?).",
        "Check `resolution` / `json_path`, or restore the missing files.",
    ),
    Case(
        "dataset.realiad_sample_id",
        "A Real-IAD split file listing an image whose name has no sample id "
        "(`<category>_<NNNN>_<OK|NG…>_C<view>_…`)",
        DatasetError, (API,),
        "{file}: test[{index}].image_path: Real-IAD image {image}: no sample id in its name; "
        "expected ...",
        "The sample metrics group the camera views of one object by that part of the file "
        "name, as the Real-IAD evaluation does; a renamed image belongs to no object.",
        "Keep Real-IAD's file names (or fix the split file's `image_path`).",
    ),
    Case(
        "dataset.ad2_validation_missing",
        "An MVTec AD 2 category without `validation/good`, evaluated with pixel metrics",
        DatasetError, (CLI,),
        "mvtec_ad2 category '{category}': no validation/good directory at {directory}; the "
        "seg_f1 threshold is calibrated on those images",
        "`seg_f1` binarises the maps at a threshold calibrated on the validation images "
        "(§5); the test images are not inferred.",
        "Restore `<category>/validation/good` from the dataset archive.",
    ),
    Case(
        "dataset.ad2_private_images",
        "`--export-submission` on an MVTec AD 2 category whose `test_private` / "
        "`test_private_mixed` images are not the evaluation server's (count or names)",
        SubmissionError, (CLI,),
        "the {split} images of '{category}' are not the {count} the evaluation server "
        "expects: ...",
        "The server checks a fixed number of files per split and category, named "
        "`000_regular` … / `000_mixed` …; nothing is inferred.",
        "Use the unmodified private splits of the MVTec AD 2 release.",
    ),
    Case(
        "dataset.kolektor_mask_missing",
        "A KolektorSDD image without its `<name>_label.bmp`",
        DatasetError, (API,),
        "kolektor image {image} has no mask {mask}: ...",
        "Kolektor labels come from the masks (all zero: defect-free), so the image has no "
        "label.",
        "Restore the mask file.",
    ),
    # ------------------------------------------------------------------ model output
    Case(
        "output.nan_score",
        "A NaN or infinite image score",
        ModelOutputError, (CLI, ITEM),
        "{image}: image score is nan, expected a finite number",
        "Metrics over NaN are meaningless; the item fails instead of reporting them.",
        "Fix the model or checkpoint (often un-normalised statistics or a division by zero).",
    ),
    Case(
        "output.nan_map",
        "NaN or infinite values in an anomaly map",
        ModelOutputError, (CLI, ITEM),
        "{image}: anomaly map holds 1 NaN or infinite value(s)",
        "Pixel metrics over such maps are meaningless.",
        "Fix the model or checkpoint.",
    ),
    Case(
        "output.map_not_2d",
        "An anomaly map that cannot be squeezed to 2-D (e.g. shape (2, H, W))",
        ModelOutputError, (CLI, ITEM),
        "{image}: anomaly map of shape {shape} cannot be read as a 2-D map; expected (H, W), "
        "(1, H, W), (H, W, 1) or (1, 1, H, W)",
        "One map per image is expected.",
        "Return one map per image (the batch on axis 0 only).",
    ),
    Case(
        "output.score_missing",
        "A model that returns no prediction for some image",
        ModelOutputError, (CLI, ITEM),
        "model returned no score for 1 image(s), first: {image}",
        "Every test image must be scored once; metrics over a subset would be wrong.",
        "Fix the model's batching.",
    ),
    Case(
        "output.no_score_field",
        "A prediction without a score field (`pred_score`, `score` or `anomaly_score`)",
        ModelOutputError, (CLI, ITEM),
        "{image}: model output of type dict has no image score (looked for pred_score, score, "
        "anomaly_score)",
        "The image cannot be ranked.",
        "Return `pred_score` (anomalib's name).",
    ),
    Case(
        "output.constant_scores",
        "Every image gets the same score",
        GateFailure, (ITEM,),
        "image_auroc=0.5 (>= ...); 1 of ... checks failed: image_auroc...image_auroc...0.5...FAIL",
        "Metrics are defined and equal scikit-learn's: AUROC 0.5, AP the anomalous fraction "
        "(docs/REFERENCE.md §5); so a threshold or snapshot catches the broken model.",
        "Gate `image_auroc` (any useful bound is above 0.5); check the checkpoint.",
    ),
    # ------------------------------------------------------------------ metrics
    Case(
        "metrics.only_normal",
        "A category whose test set holds only normal images",
        GateFailure, (ITEM,),
        "image_auroc: only one class in labels ({n} normal, 0 anomalous)",
        "Image metrics are `null` with this reason (never NaN); a threshold on them fails.",
        "Evaluate a test set with both classes, or drop the image-metric thresholds.",
    ),
    Case(
        "metrics.only_anomalous",
        "A category whose test set holds only anomalous images",
        GateFailure, (ITEM,),
        "image_auroc: only one class in labels (0 normal, {n} anomalous)",
        "As above.",
        "As above.",
    ),
    Case(
        "metrics.masks_all_zero",
        "Pixel metrics over masks that are all zero",
        GateFailure, (ITEM,),
        "pixel_auroc: no anomalous pixels in masks ({n} normal pixels)",
        "Pixel metrics are `null` with this reason; a threshold on them fails.",
        "Check the masks (an export that wrote 0/1 values is fine: masks are `> 0`).",
    ),
    # ------------------------------------------------------------------ checkpoints
    Case(
        "checkpoint.missing",
        "A checkpoint path that does not exist",
        CheckpointError, (CLI, ITEM),
        "{ckpt}: checkpoint file not found",
        "Nothing to load (in a suite the item fails before loading: "
        "`checkpoint (from '…'): <path> does not exist`).",
        "Fix the path.",
    ),
    Case(
        "checkpoint.directory",
        "A directory given as the checkpoint",
        CheckpointError, (CLI,),
        "{ckpt}: is a directory; give the checkpoint file itself (model.pt or model.ckpt)",
        "The checkpoint is a file inside it.",
        "Point at the file.",
    ),
    Case(
        "checkpoint.truncated",
        "A truncated or corrupt checkpoint file",
        CheckpointError, (CLI,),
        "{ckpt}: truncated or corrupt checkpoint (...); re-copy or re-export the file",
        "Found before anything is unpickled (and before the trust question).",
        "Re-copy or re-export the file.",
    ),
    Case(
        "checkpoint.ckpt_as_pt",
        "A Lightning checkpoint given as `.pt`/`.pth`",
        CheckpointError, (CLI,),
        "{ckpt}: this is a Lightning checkpoint (...), not an exported torch model: rename it "
        "to .ckpt and give anomalib_model (or use a vision_<name>_anomalib model)",
        "Told from the bytes without unpickling.",
        "Rename the file as the message says.",
    ),
    Case(
        "checkpoint.pt_as_ckpt",
        "An exported torch model given as `.ckpt`",
        CheckpointError, (CLI,),
        "{ckpt}: this is an exported torch model (Engine.export(export_type=TORCH) of "
        "{cls}), not a Lightning checkpoint: rename it to .pt",
        "Told from the bytes without unpickling.",
        "Rename the file to `.pt` (it then needs a pin or trust).",
    ),
    Case(
        "checkpoint.unsupported",
        "A checkpoint with another extension (`.safetensors`, `.tflite`, none)",
        CheckpointError, (CLI,),
        "{ckpt}: unsupported checkpoint type {suffix}; pyimgano reads anomalib's exported "
        "torch model (.pt/.pth), a Lightning checkpoint (.ckpt), an ONNX export (.onnx) or an "
        "OpenVINO IR (.xml)",
        "The format is chosen by the file suffix; only anomalib's torch export, Lightning "
        "checkpoints and its ONNX / OpenVINO exports are read.",
        "Export with `Engine.export` (TORCH, ONNX or OPENVINO) or use the `.ckpt`.",
    ),
    Case(
        "checkpoint.pin_mismatch",
        "A checkpoint of any format (`.pt`, `.ckpt`, `.onnx`, `.xml` + `.bin`) whose sha256 "
        "differs from its pin (`--checkpoint-sha256`, suite `sha256:`)",
        CheckpointError, (CLI, ITEM),
        "{ckpt}: sha256 mismatch, refusing to load it: the ... is {actual} but the "
        "pin is {pinned}; if the file changed on purpose, pin it again with --checkpoint-sha256 "
        "{actual} (CLI) or sha256: {actual} (suite model entry)",
        "The file changed since it was pinned. A given pin is always checked, before anything "
        "is loaded or imported: also for a `.ckpt` that would load safely (`weights_only`) and "
        "also with trust given. For an ONNX / OpenVINO artifact the digest is the combined "
        "sha256 of its files (listed in the message).",
        "If the change is intended, pin the new sha256 shown in the message.",
    ),
    Case(
        "checkpoint.reference_pin_mismatch",
        "A parity reference (`--reference-checkpoint`, suite `reference:`) whose sha256 differs "
        "from its pin (`--reference-sha256`, suite `reference_sha256:`)",
        CheckpointError, (CLI, ITEM),
        "{ckpt}: sha256 mismatch, refusing to load it: the ... is {actual} but the "
        "pin is {pinned}; if the file changed on purpose, pin it again with --reference-sha256 "
        "{actual} (CLI) or reference_sha256: {actual} (suite model entry)",
        "The same rule as the checkpoint's pin; found before either model is loaded.",
        "If the change is intended, pin the new sha256 shown in the message.",
    ),
    Case(
        "checkpoint.unreadable_entries",
        "A `.ckpt` whose pickle cannot be read back for its plain-data entries "
        "(`anomalib_pre_processor_config`, `hyper_parameters`)",
        CheckpointError, (CLI,),
        "{ckpt}: cannot read the entries anomalib_pre_processor_config, hyper_parameters of "
        "this checkpoint (...); its pickle is damaged or uses constructs a torch checkpoint "
        "does not; re-copy or re-save the file",
        "The pre-processor the model was trained with cannot be told. Rebuilding a default one "
        "instead would score at another input size (silently other numbers), so the file is "
        "refused.",
        "Re-copy the file, or evaluate the exported model (`.pt`) of the same training run.",
    ),
    Case(
        "checkpoint.trust_without_pickle",
        "`--trust-checkpoint` / `--pyimgano-trust-checkpoints` with a checkpoint format that "
        "holds no pickle (ONNX, OpenVINO)",
        None, (ACCEPTED,),
        "accepted and without effect",
        "An ONNX graph or OpenVINO IR holds no pickle, so there is nothing to trust. Trust is a "
        "permission, not an action, and the flag applies to every model of a run whatever its "
        "format, so it is not refused.",
        "Nothing to do; a pin (`sha256:`) is still checked for every format.",
    ),
    Case(
        "checkpoint.unpinned",
        "An unpinned `.pt`/`.pth` without `--trust-checkpoint` / "
        "`--pyimgano-trust-checkpoints`",
        CheckpointError, (CLI, ITEM),
        "{ckpt}: refusing to unpickle an untrusted checkpoint (...); pin it with "
        "--checkpoint-sha256 {sha} (CLI) or sha256: {sha} (suite model entry), or pass "
        "--trust-checkpoint (CLI) / --pyimgano-trust-checkpoints (pytest)",
        "Unpickling runs arbitrary code; nothing was unpickled.",
        "Pin the file (preferred) or trust it on the command line.",
    ),
    Case(
        "checkpoint.bad_pin",
        "A pin that is not 64 hex digits",
        ConfigError, (CLI,),
        "checkpoint sha256 pin {pin} is not a sha256 hex digest (64 hex digits expected)",
        "A malformed pin could never match.",
        "Copy the full sha256 (`sha256sum model.pt`).",
    ),
    # ------------------------------------------------------------------ devices
    Case(
        "device.cuda_unavailable",
        "`cuda` / `cuda:N` on a machine without CUDA",
        DeviceError, (CLI, ITEM),
        "device {device} requested but CUDA is not available on this machine (use cpu, or "
        "auto for CUDA when available; an explicit cuda never falls back)",
        "An explicit CUDA device never falls back to the CPU.",
        "Use `auto` (CUDA if available, else CPU) or `cpu`, or run on a GPU machine.",
    ),
    Case(
        "device.index_out_of_range",
        "`cuda:N` with fewer than N+1 visible GPUs",
        DeviceError, (CLI, ITEM),
        "{device} requested but only 1 GPU visible",
        "The index is beyond the visible GPUs (`CUDA_VISIBLE_DEVICES`).",
        "Use an index below the GPU count, or `cuda`.",
    ),
    Case(
        "device.unknown",
        "A device string other than `auto`, `cpu`, `cuda`, `cuda:N`",
        DeviceError, (CLI, COLLECT),
        "unknown device {device}; expected ...auto, cpu, cuda...cuda:N",
        "Suites refuse it at collection (`SuiteError`), `--pyimgano-device` at start-up.",
        "Use one of the accepted forms.",
    ),
    # ------------------------------------------------------------------ interruptions
    Case(
        "interrupt.keyboard",
        "Ctrl-C (`KeyboardInterrupt`) while a category is being inferred",
        None, ("CLI exit 130", "pytest session stops"),
        "pyimgano-benchmark: interrupted; no report was written",
        "CLI exit 130; pytest stops the session. No report, JSONL, temp file or snapshot of "
        "that item is written; items that finished keep theirs. The summary lists the "
        "interrupted item as `error` (\"the item did not finish\"), never as passed.",
        "Re-run the interrupted items.",
    ),
    Case(
        "interrupt.model_crash",
        "An exception inside the model in the middle of a category",
        None, (ITEM,),
        "the item fails with the model's traceback",
        "A crash is a bug, not bad input: it is shown in full. Nothing of the item is written.",
        "Fix the model; the other items run on.",
    ),
    Case(
        "interrupt.write_failure",
        "A failure while the report is being written (disk full, Ctrl-C)",
        None, (CLI, ITEM),
        "pyimgano-benchmark: error: {report} No space left on device",
        "Report and JSONL are written to temporary files first and renamed into place only "
        "when both are complete: the previous report and JSONL stay as they were, no temporary "
        "file is left (a SIGKILL can leave a hidden `.<name>.*.tmp`, never a partial report) and "
        "no snapshot is written or changed. In pytest the item fails with the OS error.",
        "Free space, then re-run the item.",
    ),
    Case(
        "concurrency.xdist",
        "`pytest -n 2` (pytest-xdist) writing into one report dir",
        None, (ACCEPTED,),
        "every item's report and JSONL are written and valid; one summary lists every item",
        "Items write distinct files atomically; only the controller writes the summary.",
        "Nothing to do.",
    ),
    Case(
        "concurrency.two_sessions",
        "Two pytest sessions running at the same time into one report dir",
        None, (ACCEPTED,),
        "both sessions' reports are kept; `summary.json` lists the items of both",
        "A session merges, under a lock, the items of a summary written while it ran; a "
        "summary from an earlier, finished run is replaced.",
        "Nothing to do (sequential runs into one dir still get a summary of their own items).",
    ),
]

# ---------------------------------------------------------------------------------------------
# Exported artifacts, export parity, partial maps and device memory: their own block, so that
# other additions to the list above merge without conflict. Tests: test_exports.py,
# test_parity.py (and test_outputs.py / test_devices.py for the last two areas).
_CASES += [
    # ------------------------------------------------------------------ model output
    Case(
        "output.some_maps_missing",
        "Pixel metrics asked for, and a model that gives an anomaly map for some images but not "
        "for others",
        ModelOutputError, (CLI, ITEM),
        "1 of {n} images have no anomaly map while the others have one; pixel metrics need a "
        "map for every image (or for none): {image}",
        "Pixel metrics over the images that have a map would be wrong for the category (a model "
        "with no map at all gets `null` pixel metrics instead).",
        "Fix the model so that every image gets its map (or none does), or turn `pixel` off.",
    ),
    # ------------------------------------------------------------------ devices
    Case(
        "device.out_of_memory",
        "The device runs out of memory: in a forward pass (the model's or the reference's), "
        "while aligning maps to mask size, in the pixel metrics on the maps' device, or "
        "comparing parity maps",
        DeviceError, (CLI, ITEM),
        "{device}: out of memory in {stage}...; try ...",
        "The work did not fit in the device's free memory (other processes count too); nothing "
        "is reported.",
        "Do what the message says: a smaller batch (`--batch-size` / `--pyimgano-batch-size`) "
        "where the stage scales with it, else `--device cpu` (maps and metrics then stay on "
        "the host), or free memory on the device.",
    ),
    # ------------------------------------------------------------------ exported artifacts
    Case(
        "export.file_missing",
        "An `.onnx` / `.xml` checkpoint path that does not exist, or is a directory",
        CheckpointError, (CLI, API),
        "{path}: ...ONNX graph (.onnx) file...",
        "Nothing to load (the message says `file not found` or `is a directory; give the ... "
        "file itself`).",
        "Fix the path; point at the `.onnx` / `.xml` file itself.",
    ),
    Case(
        "export.file_empty",
        "An empty `.onnx` / `.xml` file",
        CheckpointError, (CLI,),
        "{path}: ONNX graph (.onnx) file is empty",
        "A failed copy or export.",
        "Re-copy or re-export the artifact.",
    ),
    Case(
        "export.wrong_suffix",
        "A backend class given a file of another format (`OnnxCheckpoint` on a `.xml`)",
        CheckpointError, (API,),
        "{path}: expected a .onnx file for ONNX graph (.onnx)",
        "The registry picks the backend by suffix; only a direct construction can mismatch.",
        "Use `create_model` (the suffix picks the runtime) or the matching backend class.",
    ),
    Case(
        "export.no_file",
        "An ONNX / OpenVINO backend constructed without a file",
        ConfigError, (API,),
        "an {what} needs its file: pass --checkpoint-path FILE{suffix} (or checkpoint_path in "
        "the model kwargs)",
        "The artifact is the model; there is nothing to build without it.",
        "Pass the artifact's path.",
    ),
    Case(
        "export.unreadable",
        "A file of the artifact that exists but cannot be read (permissions, I/O error)",
        CheckpointError, (CLI, API),
        "{path}: cannot read artifact file: {reason}",
        "Every file is hashed before loading (its sha256 is recorded and pinnable).",
        "Fix the file's permissions or re-copy it.",
    ),
    Case(
        "export.onnx_data_missing",
        "An `.onnx` whose weights file (`model.onnx.data`, named in the graph) is missing",
        CheckpointError, (CLI, API),
        "{onnx}: its weights are stored in model.onnx.data beside it, which is missing "
        "({data} not found); copy both files of the ONNX export",
        "anomalib's dynamo export writes the weights beside the graph; the graph alone holds "
        "none of them.",
        "Copy `model.onnx.data` with `model.onnx` (same folder).",
    ),
    Case(
        "export.onnx_data_truncated",
        "A `model.onnx.data` shorter than the graph says",
        CheckpointError, (CLI,),
        "{onnx}: its weights file model.onnx.data is truncated ({size} bytes; the graph reads "
        "up to byte {end}); re-copy or re-export both files",
        "An interrupted copy.",
        "Re-copy or re-export both files.",
    ),
    Case(
        "export.onnx_external_unreadable",
        "Without the `onnx` package (which names the weights file), an `.onnx` whose external "
        "weights onnxruntime cannot read",
        CheckpointError, (CLI,),
        "{onnx}: its external weights file cannot be read (expected model.onnx.data beside it "
        "as Engine.export writes it): ...",
        "onnxruntime found the graph but not its weights.",
        "Copy `model.onnx.data` beside the graph (`pip install onnx` makes the message name "
        "the missing file).",
    ),
    Case(
        "export.onnx_corrupt",
        "A truncated or corrupt `.onnx` (not parseable)",
        CheckpointError, (CLI,),
        "{onnx}: truncated or corrupt ONNX graph (cannot be parsed: ...); re-copy or re-export it",
        "Found when the graph is read, before any inference.",
        "Re-copy or re-export the graph.",
    ),
    Case(
        "export.onnx_unloadable",
        "An `.onnx` that parses but onnxruntime cannot load (an operator it does not know, a "
        "newer opset)",
        CheckpointError, (CLI,),
        "{onnx}: truncated or corrupt ONNX graph, or one onnxruntime {version} cannot load: ...",
        "The graph is not one this onnxruntime runs.",
        "Upgrade onnxruntime or re-export with an opset it supports.",
    ),
    Case(
        "export.contract",
        "A graph outside anomalib's export contract: not one input, an input not "
        "`[B, 3, H, W]` float, no `pred_score` output, a read output of the wrong rank or dtype, "
        "an input fixing only one of H, W",
        CheckpointError, (CLI, API),
        "{path}: {why} (inputs: ...; outputs: ...); expected anomalib's export contract: one "
        "input float32 [B, 3, H, W] and outputs pred_score [B, 1] float, optional anomaly_map "
        "[B, 1, h, w] float and pred_label [B, 1] bool",
        "pyimgano feeds what anomalib's exported graph expects and reads its own outputs; "
        "another graph would be scored wrongly.",
        "Export with anomalib's `Engine.export`, or give the graph those ports.",
    ),
    Case(
        "export.bin_missing",
        "An OpenVINO `.xml` without its `.bin` beside it",
        CheckpointError, (CLI, API),
        "{xml}: its weights file model.bin is missing ({bin} not found); an OpenVINO IR is the "
        ".xml and the .bin beside it: copy both",
        "The `.xml` holds the graph, the `.bin` its weights.",
        "Copy both files into one folder.",
    ),
    Case(
        "export.ir_corrupt",
        "A truncated or corrupt `.xml`, or a `.bin` too short for it",
        CheckpointError, (CLI,),
        "{xml}: truncated or corrupt OpenVINO IR, or one openvino {version} cannot read (with "
        "model.bin): ...",
        "OpenVINO could not read the IR.",
        "Re-copy or re-export both files.",
    ),
    Case(
        "export.ir_compile",
        "An IR that OpenVINO reads but cannot compile for the CPU",
        CheckpointError, (API,),
        "{xml}: OpenVINO cannot compile this IR (is model.bin truncated or from another "
        "export?): ...",
        "The weights do not fit the graph, or the CPU plugin cannot run it.",
        "Re-export both files together.",
    ),
    Case(
        "export.precision_onnx",
        "`--precision` / `precision:` other than the graph's own for an `.onnx`",
        ConfigError, (CLI,),
        "precision={precision}: onnxruntime runs {file} at the precision it was exported in "
        "(f32; its input is float32) and has no switch to change it; use precision f32, or the "
        "OpenVINO IR of the same model (INFERENCE_PRECISION_HINT) for bf16/f16",
        "Precision is never the runtime's silent default: onnxruntime has no switch for it.",
        "Use `f32` (or `f16` for a float16 graph), or the OpenVINO IR for bf16/f16.",
    ),
    Case(
        "export.precision_openvino",
        "`bf16` / `f16` for an OpenVINO IR on a CPU that would run another precision",
        ConfigError, (CLI,),
        "precision={precision}: OpenVINO's CPU plugin would run {file} at {effective} on this "
        "CPU (it supports: ...); use precision {effective}",
        "Asked-for precision that would silently not happen.",
        "Use the precision the message names, or a CPU that runs the one asked for.",
    ),
    Case(
        "export.precision_unknown",
        "A precision that is none of `f32`, `bf16`, `f16` (the CLI's `--precision` refuses it "
        "as a usage error)",
        ConfigError, (API,),
        "precision={precision}: expected one of f32, bf16, f16",
        "Only these three are defined.",
        "Use `f32`, `bf16` or `f16`.",
    ),
    Case(
        "export.runtime_missing",
        "An `.onnx` without onnxruntime installed, or an `.xml` without openvino",
        ConfigError, (CLI,),
        "an ... checkpoint needs {package}: pip install 'pyimgano[{extra}]'",
        "The runtimes are optional extras, imported only when such an artifact is loaded.",
        "Install the extra named.",
    ),
    Case(
        "export.model_kwargs",
        "`maps_on_device: true` or a negative `decode_workers` for an ONNX / OpenVINO artifact",
        ConfigError, (CLI,),
        "{kwarg}=...: ...",
        "The exported runtimes return maps on the host; workers are a count.",
        "Leave `maps_on_device` unset; give `decode_workers` >= 0.",
    ),
    Case(
        "export.cuda_onnx",
        "`cuda` for an `.onnx` with an onnxruntime that has no CUDA provider",
        DeviceError, (CLI,),
        "device {device}: this onnxruntime (...) has no CUDAExecutionProvider (available: ...); "
        "install onnxruntime-gpu, or use cpu",
        "An explicit CUDA device never falls back to the CPU.",
        "Install `onnxruntime-gpu` (instead of `onnxruntime`) or use `cpu`.",
    ),
    Case(
        "export.cuda_fallback",
        "`cuda` for an `.onnx` where onnxruntime has the CUDA provider but cannot start it "
        "(CUDA/cuDNN libraries missing)",
        DeviceError, (API,),
        "device {device}: onnxruntime could not start the CUDAExecutionProvider (session runs "
        "on ...); check the CUDA/cuDNN libraries, or use cpu",
        "onnxruntime would silently run on the CPU.",
        "Install the CUDA/cuDNN libraries onnxruntime-gpu needs, or use `cpu`.",
    ),
    Case(
        "export.cuda_openvino",
        "`cuda` for an OpenVINO IR",
        DeviceError, (CLI,),
        "device {device}: OpenVINO runs on the CPU here (its GPU plugin is for Intel GPUs, not "
        "CUDA); use cpu or auto, or the ONNX export with onnxruntime on CUDA",
        "OpenVINO's GPU plugin drives Intel GPUs only.",
        "Use `cpu`/`auto`, or the ONNX export on CUDA.",
    ),
    Case(
        "export.runtime_failure",
        "A graph that loads but fails on the images (a reshape that only fits other sizes)",
        ModelOutputError, (CLI,),
        "{image}: onnxruntime failed on a batch of {n} image(s) of shape {shape} with {file}: ...",
        "The graph cannot run on these images; nothing is reported.",
        "Export the model for the images' size (`input_size`) or fix the graph.",
    ),
    # ------------------------------------------------------------------ export parity
    Case(
        "parity.bound_exceeded",
        "An artifact whose scores (maps, decisions) differ from its reference's by more than "
        "a `parity:` / `--parity` bound",
        GateFailure, (ITEM, "CLI exit 1"),
        "parity score_max_abs=... (<= {bound}); 1 of ... checks failed: parity.score_max_abs",
        "The artifact that ships does not score like the checkpoint that was tested. The item "
        "(or the CLI, exit 1) shows the bounds and the worst images with their Δ.",
        "Look at the worst images; re-export (precision, compression) or loosen the bound if "
        "the difference is accepted.",
    ),
    Case(
        "parity.degenerate",
        "An artifact whose scores are all equal, or all 0 or 1 (`saturated_fraction` 1)",
        GateFailure, (ITEM, "CLI exit 1"),
        "parity: degenerate artifact: every image scores {score}: the artifact outputs a "
        "constant",
        "A broken export fails whatever the bounds say (the other form: `every score is "
        "saturated at 0 or 1`).",
        "Re-export the model; check the export's post-processing.",
    ),
    Case(
        "parity.null_bound",
        "A parity bound on a quantity the pair does not give (`map` without maps, `decisions` "
        "without `pred_label`)",
        GateFailure, (ITEM, "CLI exit 1"),
        "parity decision_flips=null (<= {bound}: the artifact or the reference gives no "
        "pred_label); 1 of ... checks failed: parity.decision_flips",
        "A bound that cannot be checked fails (never passes); `map` says `yields no anomaly "
        "map`.",
        "Drop that bound, or use artifacts that give it.",
    ),
    Case(
        "parity.bad_text",
        "`--parity` that is not `NAME=VALUE` pairs, or a value that is not a number",
        ConfigError, (CLI,),
        "--parity {text}: ...",
        "The bounds cannot be read (`expected NAME=VALUE pairs`, `... is not a number`).",
        "Write e.g. `--parity score=1e-3,map=1e-2,decisions=0`.",
    ),
    Case(
        "parity.unknown_bound",
        "A parity bound other than `score`, `map`, `decisions`",
        ConfigError, (CLI, COLLECT),
        "{where}: unknown parity bound {key}; allowed: score, map, decisions",
        "A misspelt bound would otherwise leave parity ungated. In a suite it is a `SuiteError` "
        "naming the file and key path.",
        "Use `score`, `map` or `decisions`.",
    ),
    Case(
        "parity.bad_bound",
        "A negative, non-finite or non-numeric parity bound",
        ConfigError, (CLI, COLLECT),
        "{where}.{key}: expected a number >= 0, got {value}",
        "A bound is a maximum of absolute differences (or of flips).",
        "Give a number >= 0.",
    ),
    Case(
        "parity.not_mapping",
        "Parity bounds given to the API as something other than a mapping",
        ConfigError, (API,),
        "{where}: expected a mapping of ['decisions', 'map', 'score'], got {spec}",
        "Bounds are named.",
        "Pass `{\"score\": 1e-3, ...}`.",
    ),
    Case(
        "parity.needs_reference",
        "`--parity` or `--reference-sha256` without `--reference-checkpoint`",
        ConfigError, (CLI,),
        "{flag} needs --reference-checkpoint FILE (the reference the artifact is compared with)",
        "There is nothing to compare the artifact with.",
        "Give the reference checkpoint (the `.ckpt`/`.pt` of the same training run).",
    ),
    Case(
        "parity.suite_needs_reference",
        "A suite model entry with `parity:` or `reference_sha256:` but no `reference:`",
        SuiteError, (COLLECT,),
        "{suite}: {key}.parity: parity needs a reference: checkpoint in the same model entry",
        "There is nothing to compare the artifact with.",
        "Add `reference:` to the entry.",
    ),
    Case(
        "parity.api_needs_reference",
        "`run_case` with parity bounds and no reference",
        ConfigError, (API,),
        "parity bounds given without a reference checkpoint to compare with...",
        "There is nothing to compare the artifact with.",
        "Set `Case.reference`.",
    ),
    Case(
        "parity.reference_missing",
        "A reference checkpoint that does not exist",
        CheckpointError, (CLI, API),
        "{ckpt}: checkpoint file not found",
        "The reference is loaded like any checkpoint (pins and trust apply to it); in a suite "
        "the item fails before loading (`reference (from '…'): <path> does not exist`).",
        "Fix the path.",
    ),
    Case(
        "parity.other_map_size",
        "A reference whose anomaly maps have another size than the artifact's (a fixed-size "
        "graph, a downsampled map)",
        None, (ACCEPTED,),
        "accepted: the artifact's map is aligned to the reference map's size (the one bilinear "
        "alignment routine) before `map_max_abs` is taken",
        "Maps are compared at the reference's resolution.",
        "Nothing to do.",
    ),
    # ------------------------------------------------------------------ round 3 options
    Case(
        "metrics.fpr_limits",
        "`--fpr-limits` (operating points) that is not a comma-separated list of distinct "
        "numbers in (0, 1] (`0.1,abc`, `2`, `0.1,0.1`); in a suite, `fpr_limits: [0.01, 0]`",
        ConfigError, (CLI, COLLECT),
        "{key} {value}: {part} {problem}",
        "Each limit gives one `image_tpr_at_fpr_<x>`; a limit outside (0, 1] has no ROC point. "
        "In a suite the message is `<suite>: <key>[i]: must be in (0, 1], got <value>` "
        "(a collection error).",
        "Give FPRs such as `0.01,0.05`, each once.",
    ),
    Case(
        "memory.bad_value",
        "A memory budget that is not `auto` or a positive size (`--memory-budget lots`, "
        "`0`, `-1GiB`, `memory_budget: 12 apples`, `true`, `--pyimgano-memory-budget lots`)",
        ConfigError, (CLI, COLLECT),
        "{name} is {value}; expected ...",
        "The budget bounds the memory of the pixel metrics beyond the maps; pyimgano never "
        "guesses a unit. The pytest option (or ini `pyimgano_memory_budget`) is a usage error "
        "(exit 4) before collection.",
        "Write `auto`, a number of bytes or a size with a unit (B, KB, MB, GB, TB, KiB, MiB, "
        "GiB, TiB), e.g. `4GiB`.",
    ),
    Case(
        "memory.too_small",
        "A memory budget too small to stream the pixel metrics (`--pixel --memory-budget 1KiB`)",
        MetricInputError, (CLI, API),
        "the memory budget ... ({budget} bytes) is too small for the pixel metrics of {pixels} "
        "pixels (largest image ... pixels): streamed, they need at least ... bytes); raise the "
        "memory budget ...",
        "Streamed, the metrics still hold one image's sort keys, one run, the merge buffers and "
        "a sweep chunk; the message names the least budget that would do. The need depends "
        "on the maps' sizes, so the check comes after inference, before any pixel is sorted.",
        "Give at least the budget named, or leave the budget unset (in memory).",
    ),
    Case(
        "memory.not_float32",
        "Anomaly maps that are not float32 values (float64, for instance, through the API) "
        "whose in-memory sort exceeds the memory budget",
        MetricInputError, (API,),
        "the memory budget ... ({budget} bytes) is too small for the pixel metrics of {pixels} "
        "pixels: maps whose values are not float32 values are sorted in memory only and need "
        "about ... bytes); raise the memory budget ..., leave it unset or give float32 maps",
        "Only float32 values pack into the 8-byte keys that can be spilled to disk; other "
        "dtypes are used at their own precision, in memory. The same budget streams float32 "
        "maps.",
        "Raise or unset the budget, or cast the maps to float32.",
    ),
    Case(
        "protocol.unknown",
        "A protocol that does not exist (`protocol: mvtec` in a suite; on the CLI, "
        "`--protocol` accepts only `anomalib` and argparse refuses others with exit 2)",
        ConfigError, (COLLECT, API),
        "{key}: {value} is not a protocol; expected one of: ...",
        "A protocol adds a second set of numbers computed another way (`metrics_anomalib`); "
        "a misspelt one would silently add nothing.",
        "Use `anomalib`, or remove the key.",
    ),
    Case(
        "protocol.anomalib_not_torch",
        "`--protocol anomalib` / `protocol: anomalib` on an exported ONNX/OpenVINO artifact or "
        "a model that is not an anomalib torch checkpoint",
        ConfigError, (CLI, API),
        "protocol 'anomalib' needs a torch anomalib checkpoint (.pt or .ckpt): ...this model "
        "({runtime}) has none. Remove protocol, or evaluate the .pt/.ckpt it came from",
        "The protocol runs the checkpoint's own pre-processor, model and post-processor as "
        "`Engine.test` does; an exported graph or another detector has none of them. The "
        "model is refused once loaded, before any inference; an exported artifact is named "
        "(`onnxruntime from <path>`).",
        "Drop the protocol for this model, or evaluate the `.pt`/`.ckpt` the artifact came from.",
    ),
    Case(
        "protocol.calibration_format",
        "`--calibration` / `calibration:` on a dataset format other than `mvtec_ad2`",
        ConfigError, (CLI, API),
        "calibration applies to the mvtec_ad2 format only (its seg_f1 threshold), not {fmt}; "
        "remove calibration (--calibration) or evaluate an mvtec_ad2 dataset",
        "Only MVTec AD 2 calibrates a threshold (on `validation/good`); elsewhere the option "
        "would be ignored.",
        "Remove the option, or evaluate an `mvtec_ad2` dataset.",
    ),
    Case(
        "protocol.calibration_malformed",
        "A calibration rule that is not `{rule: mean_std[, k]}` / `{rule: quantile[, q]}` "
        "(`rule: max`, `q: 1.5`, `k: \"3\"`), on the CLI or in a suite",
        ConfigError, (CLI, COLLECT, API),
        "{key}={value}: expected ...",
        "The rule fixes the `seg_f1` threshold from the validation maps: mean + k·std or "
        "the q-quantile; nothing else is defined. An unknown key is refused alike "
        "(`calibration: unknown key(s) …`).",
        "Use `mean_std` with a finite `k` or `quantile` with `q` in [0, 1].",
    ),
    Case(
        "protocol.submission_format",
        "`--export-submission` on a dataset format other than `mvtec_ad2`",
        ConfigError, (CLI, API),
        "--export-submission is for --dataset mvtec_ad2 (the MVTec AD 2 evaluation server), "
        "not {fmt}; remove --export-submission",
        "The submission is the MVTec AD 2 server's layout of the private test splits; no other "
        "format has one. Nothing is written.",
        "Remove the flag, or evaluate `--dataset mvtec_ad2`.",
    ),
    Case(
        "protocol.submission_needs_pixel",
        "`--export-submission` without `--pixel`",
        ConfigError, (CLI, API),
        "--export-submission needs --pixel: the submission's masks use the seg_f1 threshold "
        "calibrated on validation/good with the pixel metrics",
        "The submission's binary masks are the maps at the calibrated threshold, which only "
        "the pixel metrics compute. Nothing is written.",
        "Add `--pixel`.",
    ),
    Case(
        "report.not_written_by_pyimgano",
        "A suite item whose report, JSONL or plot path under `--pyimgano-report-dir` holds a "
        "file pyimgano did not write (or one changed since)",
        ReportError, (ITEM,),
        "{path}: exists and was not written by pyimgano (not in {report_dir}..., or changed "
        "since); pyimgano never overwrites such a file: move or delete it, or choose another "
        "--pyimgano-report-dir",
        "pyimgano records what it writes in the report dir's manifest and replaces only those "
        "files (or a report of this very item); the item fails before anything runs, and the "
        "file is left as it was.",
        "Move or delete the file, or give another `--pyimgano-report-dir`.",
    ),
    Case(
        "suite.evaluate_entry",
        "A `pyimgano_evaluate(...)` call (pytest fixture) with an unknown key, `categories=`, "
        "`snapshot=` or without `model` / `dataset` / `category`",
        SuiteError, (ITEM,),
        "pyimgano_evaluate() in {test}: {problem}",
        "The call takes the keys of one suite model entry plus `category` and is checked as a "
        "suite is; the test fails before anything runs.",
        "Use the keys the message lists; one category per call; a snapshot tolerance is "
        "`MetricsSnapshotExtension.with_tolerance(...)`.",
    ),
    Case(
        "suite.snapshot_tolerance",
        "`MetricsSnapshotExtension.with_tolerance(...)` with an unknown metric, a speed metric, "
        "or a tolerance that is negative, non-finite or not a number",
        ConfigError, (API,),
        "MetricsSnapshotExtension.with_tolerance(): {problem}",
        "The tolerance is parsed as a suite's `snapshot: {tolerance: …}`; speed metrics are "
        "never snapshotted.",
        "Give a number >= 0 or `{metric: tolerance}` with metric names from the message.",
    ),
    Case(
        "metrics.calibration_nonfinite",
        "MVTec AD 2 calibration (`calibration_threshold`) over validation maps with NaN/Inf "
        "pixels, or over no pixel at all (API)",
        MetricInputError, (API,),
        "validation map {index} holds {bad} NaN or Inf value(s); the threshold is calibrated "
        "on finite maps only: fix the model's output for that image",
        "Through the CLI or a suite a non-finite map is refused earlier, naming the image "
        "(see *Model output*); with no pixel the message is `calibration needs at least one "
        "validation map pixel; got none: …`.",
        "Hand finite maps of the `validation/good` images.",
    ),
]

CASES: dict[str, Case] = {case.id: case for case in _CASES}
assert len(CASES) == len(_CASES), "duplicate case ids"
assert all(case.area in AREAS for case in _CASES)

F = TypeVar("F", bound=Callable[..., Any])


def covers(case_id: str) -> Callable[[F], F]:
    """Mark a test as the one covering ``case_id`` (checked by test_catalogue)."""
    if case_id not in CASES:
        raise KeyError(f"no catalogue case {case_id!r}")

    def mark(func: F) -> F:
        func.catalogue_case = case_id  # type: ignore[attr-defined]
        return func

    return mark
