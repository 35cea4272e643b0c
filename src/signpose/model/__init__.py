"""Stage 3a, the model: what a trained sign model is and how it reads points. Feature sets
and the feature pipeline (`features`), the architectures and their contract
(`architectures`), recipes and augmentation settings as a run records them, the run
settings (`config`), the run folder as later stages load it (`runs`: a loaded run carries
its feature pipeline) and inference over prepared points (`inference`). Recognition stands
on this alone; the trainer (`learn`) stands beside it."""
