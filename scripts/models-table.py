"""Print the model table of docs/MODELS.md from the registry (``python scripts/models-table.py``).

The rows between the page's table header and its first blank line are this output; the test
``tests/core/test_registry.py::test_the_models_page_shows_the_registry_facts`` compares them.
"""

from __future__ import annotations

from pyimgano.models import describe_models, model_info

SHOWN = {True: "yes", False: "**no**", None: "unknown"}


def rows() -> list[str]:
    """One markdown row per ``vision_<name>_anomalib`` alias, sorted by alias."""
    lines = []
    for row in describe_models(tags="anomalib"):
        if row["name"] == "vision_anomalib_checkpoint":
            continue
        cls = model_info(row["name"])["metadata"]["anomalib_class"]
        verified = ", ".join(f"`{f}`" for f in row["verified"]) or "—"
        limitations = "; ".join(row["limitations"]) or "—"
        lines.append(f"| `{row['name']}` | {cls} | {verified} | "
                     f"{SHOWN[row['batch_independent']]} | {limitations} |")
    return lines


if __name__ == "__main__":
    print("\n".join(rows()))
