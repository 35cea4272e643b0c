"""Stage 3b, learning: how a model is trained. Splits by signer, augmentation transforms,
the Lightning module and loop (`lightning`, `training`), fine-tuning, fusion weights,
evaluation and its plots, and array export. Stands on `model`; recognition never imports it."""
