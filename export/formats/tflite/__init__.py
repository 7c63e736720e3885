"""TFLite: a LiteRT model with MediaPipe metadata for the Android library; run by LiteRT and MediaPipe Tasks."""
