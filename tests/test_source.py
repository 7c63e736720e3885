"""Every tool opens what it is given one way (:mod:`carspotter.contracts.source`): a run and its bundle give the same
labels, size and typed confidence; every model the command runs, the Keras reference included, is a session of one
pool, loaded once and closed when the command ends."""

from __future__ import annotations

import pytest

from carspotter.contracts.source import open_bundle_source, open_source
from carspotter.model import runtimes
from carspotter.util.errors import UsageError


def test_a_run_and_its_bundle_open_the_same_way(pipeline):
    run_dir, bundle = pipeline
    with open_source(run_dir) as run_src, open_source(bundle, run_dir) as bundle_src:
        assert (run_src.kind, bundle_src.kind) == ("run", "bundle")
        assert run_src.labels == bundle_src.labels and len(run_src.labels) == 4
        assert run_src.size == bundle_src.size
        # run.json's record and the manifest's copy, typed alike
        assert run_src.confidence is not None and run_src.confidence == bundle_src.confidence
        assert bundle_src.run is not None and bundle_src.run.dir.resolve() == run_dir.resolve()
        assert run_src.shipped() == [] and len(bundle_src.shipped()) >= 4


def test_one_pool_loads_each_model_once_and_closes_all_of_them(pipeline):
    run_dir, bundle = pipeline
    src = open_source(bundle, run_dir)
    fmt, variant = src.shipped()[0]
    before = sum(runtimes.LOADS.values())
    reference = src.reference()
    _, session = src.variant(fmt, variant)
    assert src.reference() is reference and src.variant(fmt, variant)[1] is session
    assert sum(runtimes.LOADS.values()) - before == 2  # the reference and the file, once each
    src.close()
    assert reference.closed and session.closed


def test_a_variant_not_shipped_and_a_run_where_a_bundle_is_needed_are_one_line(pipeline):
    run_dir, bundle = pipeline
    with open_source(bundle, run_dir) as src:
        fmt = src.shipped()[0][0]
        with pytest.raises(UsageError, match=f"{fmt}/no-such: .* does not ship it \\(it holds {fmt}/"):
            src.variant(fmt, "no-such")
    with pytest.raises(UsageError, match="a run folder; pass a bundle folder"):
        open_bundle_source(run_dir)


def test_parity_holds_its_bundle_as_a_source_with_the_reference_in_its_pool(pipeline):
    from carspotter.parity.context import LIVE, ParityContext

    run_dir, bundle = pipeline
    ctx = ParityContext(bundle, run=run_dir, limit=4)
    before = sum(runtimes.LOADS.values())
    live = ctx.basis(LIVE)
    reference = ctx.source.reference()  # the session the live basis was computed with, not a second load
    assert sum(runtimes.LOADS.values()) - before == 1 and live.reference.shape == (4, len(ctx.source.labels))
    assert ctx.pool is ctx.source.pool and not reference.closed
    ctx.close()
    assert reference.closed
