"""pytest11 entry point of pyimgano (hooks only)."""
