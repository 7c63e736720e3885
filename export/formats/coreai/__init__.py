"""Core AI: a .aimodel (iOS 27+ / macOS 27+) joined to the Core ML Swift package; run by coreai-core."""
