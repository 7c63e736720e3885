"""Commands built on the core: predict (and its report), benchmark; formats loaded as sessions (loaded)."""
