"""The parity stage: the context (bundle, photo sets, sessions), the checks, the report and its page, the run."""
