"""pytest plugin of pyimgano: YAML suites of checkpoints x datasets x thresholds (SPEC §8)."""
