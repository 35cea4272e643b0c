"""Stage 1, data: the keypoint layout, one sample in memory and on disk (`.pose`), the
dataset folder (reading it and writing it), finding samples on disk, labels, video
frames, importers of other formats, and synthetic data."""
