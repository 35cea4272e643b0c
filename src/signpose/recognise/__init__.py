"""Stage 4, recognition: a trained run applied to videos, files of keypoints and live
streams (`Recognizer`), annotated output videos, and the ONNX export."""

BACKENDS = ("torch", "onnx")  # the classifier runs in PyTorch, or in ONNX Runtime after `signpose export`
