"""Options and fixtures of the parity suite; results go to parity.json and manifest.json.

Options: ``--bundle DIR`` (required), ``--run DIR``, ``--data DIR``, ``--images DIR``, ``--limit N``, ``--no-write``.
The checks themselves are :mod:`carspotter.parity.checks`; this layer only parametrizes
over them and records their outcomes in one :class:`~carspotter.parity.report.ParityReport`.
"""

from __future__ import annotations

import pytest

from carspotter.util.errors import CarspotterError
from carspotter.parity.checks import plan
from carspotter.parity.context import ParityContext
from carspotter.parity.run import new_report

_REPORT = pytest.StashKey[object]()
_CONTEXT = pytest.StashKey[object]()


def pytest_addoption(parser):
    group = parser.getgroup("carspotter parity")
    group.addoption("--bundle", default=None, help="bundle folder to check")
    group.addoption(
        "--images", default=None, help="folder of photos for the live reference (default: the run's test split)"
    )
    group.addoption(
        "--run", default=None, help="the bundle's run folder (default: looked for; else the golden set only)"
    )
    group.addoption("--data", default=None, help="the run's photo folder, when it moved")
    group.addoption(
        "--no-app-paths", action="store_true", help="skip the app paths (the app's own decoding and resizing)"
    )
    group.addoption("--app-gate", action="store_true", help="an app path that misses its gate fails")
    group.addoption("--limit", type=int, default=None, help="check at most N photos")
    group.addoption("--no-write", action="store_true", help="do not write parity.json or update manifest.json")


def _context(config) -> ParityContext:
    if _CONTEXT not in config.stash:
        bundle = config.getoption("--bundle")
        if not bundle:
            pytest.exit("carspotter parity: pass --bundle BUNDLE_DIR", returncode=2)
        try:
            config.stash[_CONTEXT] = ParityContext(
                bundle,
                config.getoption("--images"),
                config.getoption("--limit"),
                config.getoption("--run"),
                config.getoption("--data"),
                not config.getoption("--no-app-paths"),
                config.getoption("--app-gate"),
            )
        except CarspotterError as exc:
            pytest.exit(f"carspotter parity: error: {exc}", returncode=2)
    return config.stash[_CONTEXT]


def pytest_generate_tests(metafunc):
    """One test per check of the bundle (ids such as ``tflite/litert`` or ``variant/onnx/fp32``)."""
    if "check" in metafunc.fixturenames:
        checks = plan(_context(metafunc.config))
        metafunc.parametrize("check", checks, ids=[c.id for c in checks])


@pytest.fixture(scope="session")
def parity(pytestconfig):
    """``(context, report)``: the bundle under check and the report its outcomes go to."""
    ctx = _context(pytestconfig)
    if _REPORT not in pytestconfig.stash:
        try:
            pytestconfig.stash[_REPORT] = new_report(ctx, [str(a) for a in pytestconfig.invocation_params.args])
        except CarspotterError as exc:
            pytest.exit(f"carspotter parity: error: {exc}", returncode=2)
    return ctx, pytestconfig.stash[_REPORT]


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    report = config.stash.get(_REPORT, None)
    if report is None or config.getoption("--no-write") or not report.outcomes:
        return
    ctx = config.stash.get(_CONTEXT, None)
    report.write(config.getoption("--bundle"), ctx.thumbnail if ctx is not None else None)
