"""Parity suite: every format's top-3 against the Keras reference on real photos.

Run with ``carspotter parity BUNDLE_DIR`` (or ``nox -s parity``); see :mod:`.runner`.
"""
