"""`cnn`: the plain 1D-CNN baseline that the accuracy work measures against."""

from __future__ import annotations

from torch import nn

from .layers import check_rates, check_sizes, masked_mean
from .registry import register_model


class BaselineCNN(nn.Module):
    """A plain 1D-CNN over time: two convolutions of 128 channels (kernel 5) with batch norm,
    ReLU and dropout 0.2, then the average over the seen frames and a linear classifier.
    The 40-line baseline of the accuracy issue, which beat 0.1's defaults on real unseen
    signers: the yardstick every recipe here must beat."""

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        frames: int = 30,
        channels: int = 128,
        kernel: int = 5,
        dropout: float = 0.2,
    ):
        super().__init__()
        check_sizes(channels=channels, kernel=kernel)
        check_rates(dropout=dropout)
        layers: list[nn.Module] = []
        for cin in (in_features, channels):
            layers += [
                nn.Conv1d(cin, channels, kernel, padding=kernel // 2),
                nn.BatchNorm1d(channels),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
        self.body = nn.Sequential(*layers)
        self.head_dropout = nn.Dropout(0.0)  # off, as in the baseline; recipes may switch it on late
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x, frame_mask=None):
        y = self.body(x.transpose(1, 2)).transpose(1, 2)
        return self.head(self.head_dropout(masked_mean(y, frame_mask)))


@register_model(
    "cnn",
    "cnn",
    "plain 1D-CNN baseline: 2 x Conv1d 128 (kernel 5), BN, dropout, average pooling",
    origin=(
        "the accuracy work's yardstick: a plain 1D-CNN (2 x Conv1d 128, kernel 5, batch norm, dropout 0.2, "
        "average over the seen frames)"
    ),
)
def build_cnn(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return BaselineCNN(in_features, n_classes, frames, **options)
