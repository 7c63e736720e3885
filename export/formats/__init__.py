"""One package per export format: its conversion, variants, runtimes, phone-accelerator checks, platform package and
drift taps, registered by one entry point (pyproject.toml ``[project.entry-points."carspotter.formats"]``) whose
object is the format's :class:`~carspotter.model.format_spec.FormatSpec`.

Nothing outside a format's package names it: export, parity, the tools and the measurements reach a format through
the registry (:data:`carspotter.model.formats.FORMATS`). Adding a format is a package here and its entry point.
"""
