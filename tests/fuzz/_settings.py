"""Hypothesis settings of the fuzz tests: modest by default, thousands on demand.

- default: 200 examples per property, derandomized (the same cases on every run, so CI is
  stable; a failure there is reproducible as it stands);
- ``PYIMGANO_FUZZ_EXAMPLES=N``: N examples per property, randomized;
- ``HYPOTHESIS_PROFILE=fuzz``: 5000 examples per property, randomized.

    PYIMGANO_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/fuzz -q --hypothesis-show-statistics

Every property holds that pyimgano answers arbitrary input with a result or one of its
documented errors (:class:`pyimgano.errors.PyImganoError` subclasses) — never another
exception. A falsifying example found once is kept as an ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200
PROFILE_EXAMPLES = 5000


def examples() -> int:
    given = os.environ.get("PYIMGANO_FUZZ_EXAMPLES", "").strip()
    if given:
        return max(1, int(given))
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        return PROFILE_EXAMPLES
    return DEFAULT_EXAMPLES


EXAMPLES = examples()

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES == DEFAULT_EXAMPLES,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
