"""Helpers every layer may use: one-line input errors, atomic file writes, number
formatting and TOML I/O. It imports nothing else of the package."""
