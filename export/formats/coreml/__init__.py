"""Core ML: an ML program (.mlpackage) for the Swift package; run here by the MIL execution (and Core ML on macOS)."""
