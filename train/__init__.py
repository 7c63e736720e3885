"""Training stage: photo folder -> run folder (model.keras, labels.txt, run.json, splits)."""
