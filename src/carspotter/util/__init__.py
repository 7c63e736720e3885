"""Plumbing every layer may use: typed errors, atomic writes, locks, hashing, signals, progress, quiet imports, HTML pages."""
