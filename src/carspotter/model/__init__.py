"""What the model is and how it runs: input and backbone spec, photos and the reference resize, the format registry, runtimes (sessions), the MIL execution."""
