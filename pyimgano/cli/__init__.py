"""Command-line entry points (thin: parse options, call the library, map errors to exit codes)."""
