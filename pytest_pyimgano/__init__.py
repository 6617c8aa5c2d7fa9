"""pytest plugin of pyimgano: YAML suites of checkpoints x datasets x thresholds.

See docs/REFERENCE.md §8 and docs/PLUGIN.md.
"""
