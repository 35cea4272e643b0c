"""Stage 3, learning: features (`features`), augmentation, splits, models and training
recipes (registries), the run settings (`config`), training (Lightning), evaluation,
and the run folder as later stages read it (`runs`)."""
