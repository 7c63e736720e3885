"""Measuring answers: metrics, the parity rule, variant gates, app paths, calibration, not-a-car, Grad-CAM."""
