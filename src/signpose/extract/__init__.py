"""Stage 2, extraction: MediaPipe Holistic keypoints from videos (`holistic`), run on a
local process pool or Ray (`backends`), into a dataset folder, resumable (`pipeline`)."""
