"""The artifacts stages hand over on disk: the run folder (run.json), the bundle manifest, the golden set, a run's photo splits."""
