"""Suite keys for precision, protocol limits and export parity (docs/REFERENCE.md §3, §5, §11),
YAML line numbers and empty ``${VAR}`` — parsed and expanded without pytest sessions."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pyimgano.errors import SuiteError
from pytest_pyimgano.suite_yaml import load_yaml_with_lines, looks_like_suite
from tests.plugin.test_suite import HEX, base, expand, parse

OTHER = "cd" * 32


def with_parity() -> dict:
    data = copy.deepcopy(base())
    data["defaults"].update(precision="bf16", aupro_limits=[0.05, 0.3],
                            aupimo_fpr_bounds=[1e-5, 1e-4])
    data["models"][0].update(
        reference="../refs/{category}/model.ckpt",
        reference_sha256={"bottle": OTHER},
        parity={"score": 1e-3, "map": 1e-2, "decisions": 0},
        auspro_limits=[0.1],
        precision="f16",
    )
    return data


def test_new_keys_reach_the_case_merged_defaults_then_model():
    bottle, cable = expand(with_parity())
    case = bottle.case
    assert case.precision == "f16"  # the model's value replaces the defaults'
    assert case.aupro_limits == (0.05, 0.3) and case.auspro_limits == (0.1,)
    assert case.aupimo_fpr_bounds == (1e-5, 1e-4)
    assert case.reference == Path("/repo/refs/bottle/model.ckpt")
    assert cable.case.reference == Path("/repo/refs/cable/model.ckpt")
    assert (case.reference_sha256, cable.case.reference_sha256) == (OTHER, None)
    assert case.parity == {"score": 1e-3, "map": 1e-2, "decisions": 0}
    assert ("reference checkpoint (from '../refs/{category}/model.ckpt')",
            Path("/repo/refs/bottle/model.ckpt")) in bottle.paths


def test_fpr_limits_reach_the_case_and_gates_accept_operating_points():
    from pyimgano.gates import parse_bounds

    data = copy.deepcopy(base())
    data["defaults"]["fpr_limits"] = [0.01]
    data["models"][0]["fpr_limits"] = [0.05, 0.01]
    bottle, _ = expand(data)
    assert bottle.case.fpr_limits == (0.05, 0.01)
    bounds = parse_bounds({"image_tpr_at_fpr_0.05": 0.8}, where="w")
    assert bounds["image_tpr_at_fpr_0.05"].min == 0.8
    data["models"][0]["fpr_limits"] = [0.05, 2]
    with pytest.raises(SuiteError, match=r"models\[0\]\.fpr_limits\[1\]: must be in \(0, 1\]"):
        expand(data)


def test_runner_defaults_hold_when_the_suite_is_silent():
    from pyimgano.runner import Case

    (case, _) = (i.case for i in expand(base()))
    default = Case(model="m", dataset_format="mvtec", root=Path("/r"), category="c")
    for key in ("precision", "aupro_limits", "auspro_limits", "aupimo_fpr_bounds", "reference",
                "reference_sha256", "parity", "fpr_limits"):
        assert getattr(case, key) == getattr(default, key), key


def test_reference_without_parity_reports_without_bounds():
    data = copy.deepcopy(base())
    data["models"][0]["reference"] = "/refs/{category}.pt"
    (bottle, _) = expand(data)
    assert bottle.case.parity == {}  # parity reported, nothing bounded


def test_one_reference_pin_for_every_category():
    data = copy.deepcopy(base())
    data["models"][0].update(reference="/refs/r.pt", reference_sha256=OTHER.upper())
    assert {i.case.reference_sha256 for i in expand(data)} == {OTHER}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["defaults"].update(precision="fp16"),
         r"defaults\.precision: unknown precision 'fp16'; expected one of f32, bf16, f16"),
        (lambda d: d["defaults"].update(aupro_limits=0.3),
         r"defaults\.aupro_limits: expected a non-empty list of numbers in \(0, 1\]"),
        (lambda d: d["defaults"].update(aupro_limits=[0.3, 1.5]),
         r"defaults\.aupro_limits\[1\]: must be in \(0, 1\], got 1\.5"),
        (lambda d: d["defaults"].update(aupro_limits=[0.3, 0.3]), r"listed twice"),
        (lambda d: d["models"][0].update(auspro_limits=[0]),
         r"models\[0\]\.auspro_limits\[0\]: must be in \(0, 1\]"),
        (lambda d: d["defaults"].update(aupimo_fpr_bounds=[1e-4, 1e-5]),
         r"defaults\.aupimo_fpr_bounds: low bound 0\.0001 must be below the high bound 1e-05"),
        (lambda d: d["defaults"].update(aupimo_fpr_bounds=[1e-4]),
         r"defaults\.aupimo_fpr_bounds: expected \[low, high\]"),
        (lambda d: d["models"][0].update(parity={"score": 1e-3}),
         r"models\[0\]\.parity: parity needs a reference: checkpoint"),
        (lambda d: d["models"][0].update(reference_sha256=HEX),
         r"models\[0\]\.reference_sha256: reference_sha256 needs a reference"),
        (lambda d: d["models"][0].update(reference="r.pt", parity={"scores": 1}),
         r"models\[0\]\.parity: unknown parity bound 'scores'; allowed: score, map, decisions"),
        (lambda d: d["models"][0].update(reference="r.pt", parity={"map": -1}),
         r"models\[0\]\.parity\.map: expected a number >= 0"),
        (lambda d: d["models"][0].update(reference="r.pt", reference_sha256={"screw": HEX}),
         r"models\[0\]\.reference_sha256\.screw: category 'screw' is not selected"),
        (lambda d: d["models"][0].update(reference="r/{cat}.pt"),
         r"models\[0\]\.reference: unknown placeholder \{cat\}"),
        (lambda d: d["defaults"].update(reference="r.pt"),
         r"defaults\.reference: unknown key 'reference'; allowed keys: pixel, batch_size, "
         r"device, aupro_limit, precision, aupro_limits, auspro_limits, aupimo_fpr_bounds"),
    ],
)
def test_bad_new_keys_name_file_key_and_what_is_expected(edit, message):
    data = copy.deepcopy(base())
    edit(data)
    with pytest.raises(SuiteError, match=r"^suites/release\.yaml: .*" + message):
        expand(data)


def test_empty_variable_is_a_failure_and_unset_a_skip():
    data = copy.deepcopy(base())
    data["models"][0]["checkpoint"] = "${CKPT_DIR}/{category}.pt"
    (empty, _) = expand(data, environ={"MVTEC_ROOT": "/d", "CKPT_DIR": ""})
    assert empty.skip is None and empty.case is None
    assert empty.error.startswith("environment variable ${CKPT_DIR} is set but empty "
                                  "(models[0].checkpoint)")
    (unset, _) = expand(data, environ={"MVTEC_ROOT": "/d"})
    assert unset.error is None and "${CKPT_DIR} is not set" in unset.skip
    # an empty root fails even when another variable is unset: failures never hide as skips
    (both, _) = expand(data, environ={"MVTEC_ROOT": ""})
    assert both.skip is None and "${MVTEC_ROOT} is set but empty" in both.error
    data["models"][0]["categories"] = "all"
    (placeholder,) = expand(data, environ={"MVTEC_ROOT": ""})
    assert placeholder.name == "patchcore-wrn50[all]" and "set but empty" in placeholder.error


def test_empty_variable_in_a_folder_option_is_a_collection_error():
    data = copy.deepcopy(base())
    data["datasets"]["mvtec"] = {"format": "folder", "root": "/d", "normal_dir": "${GOOD}"}
    with pytest.raises(SuiteError, match=r"datasets\.mvtec\.normal_dir: environment variable "
                                         r"GOOD is set but empty"):
        parse(data, {"GOOD": ""})


def test_lines_of_key_paths():
    text = ("\ufeffpyimgano_suite: 1\n"
            "defaults:\n"
            "  snapshot: {tolerance: 0.1}\n"
            "datasets:\n"
            "  d: {format: mvtec, root: /x}\n"
            "models:\n"
            "  - id: a\n"
            "    model: m\n"
            "  - id: b\n"
            "    thresholds:\n"
            "      image_auroc: 0.9\n")
    data, lines = load_yaml_with_lines(text, "s.yaml")
    assert data["pyimgano_suite"] == 1  # the byte order mark is not part of the key
    assert lines["defaults.snapshot"] == 3
    assert (lines["models[0]"], lines["models[1]"]) == (7, 9)
    assert lines["models[1].thresholds.image_auroc"] == 11
    suite = parse_with_lines(lines)
    assert suite.line_of("models[1].snapshot", "defaults.snapshot") == 3
    assert suite.line_of("nowhere") == 1


def parse_with_lines(lines: dict):
    from pytest_pyimgano.parse import parse_suite

    return parse_suite(base(), "/repo/suites/release.yaml", environ={"MVTEC_ROOT": "/d"},
                       lines=lines)


def test_byte_order_mark_is_sniffed(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_bytes(b"\xef\xbb\xbfpyimgano_suite: 1\n")
    assert looks_like_suite(suite)
