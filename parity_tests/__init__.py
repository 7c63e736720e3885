"""Parity suite as pytest: every check of :mod:`carspotter.parity.checks` as one test.

    pytest parity_tests --bundle BUNDLE_DIR [--images DIR] [--limit N] [--no-write] [--junitxml parity.xml]

``carspotter parity BUNDLE_DIR`` runs the same checks without pytest.
"""
