"""Sequence classifiers, by name.

Every model takes features (B, T, F) and a frame mask (B, T) and returns class logits.
`SignClassifier` puts the `FeatureHead` in front, so a saved model takes the prepared
points directly (and so does its ONNX export).

Registered: `lstm`, `tcn` and `transformer` reproduce the seed notebook's Keras models
(parameter counts match its summaries); `islr` is the stronger model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SignposeError
from ..settings import unknown
from .features import FeatureConfig, FeaturePipeline
from .recipes import Recipe


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]  # build(in_features, n_classes, frames, **options)
    recipe: str  # the training recipe it uses unless told otherwise
    description: str


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, recipe: str, description: str):
    """Register an architecture under a name, with the recipe it trains with by default."""
    if recipe not in Recipe.PRESETS:
        raise ValueError(f"model {name!r}: unknown recipe {recipe!r}")

    def wrap(build):
        MODELS[name] = ModelSpec(name, build, recipe, description)
        return build

    return wrap


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise SignposeError(unknown("model", name, MODELS)) from None


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _seed_head(in_features: int, n_classes: int) -> nn.Sequential:
    """The notebook's classifier head: Dense 64 relu, Dense 32 relu, Dense n (softmax in the loss)."""
    return nn.Sequential(
        nn.Linear(in_features, 64),
        nn.ReLU(),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Linear(32, n_classes),
    )


# ---------------------------------------------------------------------------------------
# lstm: the notebook's LSTM 64-128-64 with relu activations
# ---------------------------------------------------------------------------------------


class KerasLSTM(nn.Module):
    """An LSTM layer as Keras builds it: one bias per gate, a chosen activation (the
    notebook uses relu instead of tanh), sigmoid gates, forget-gate bias initialised to 1."""

    def __init__(self, in_features: int, units: int, activation: str = "relu", return_sequences: bool = True):
        super().__init__()
        self.units = units
        self.return_sequences = return_sequences
        self.act = torch.relu if activation == "relu" else torch.tanh
        self.kernel = nn.Parameter(torch.empty(in_features, 4 * units))
        self.recurrent = nn.Parameter(torch.empty(units, 4 * units))
        self.bias = nn.Parameter(torch.zeros(4 * units))
        nn.init.xavier_uniform_(self.kernel)
        nn.init.orthogonal_(self.recurrent)
        with torch.no_grad():
            self.bias[units : 2 * units] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        projected = x @ self.kernel + self.bias  # all time steps at once; only the recurrence loops
        h = x.new_zeros(b, self.units)
        c = x.new_zeros(b, self.units)
        outputs = []
        for step in range(t):
            z = projected[:, step] + h @ self.recurrent
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
            h = torch.sigmoid(o) * self.act(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1) if self.return_sequences else h


class SeedLSTM(nn.Module):
    """The seed notebook's `model_lstm3`: LSTM 64, 128, 64 (relu) + Dense 64, 32, n.
    Origin: Alyami, Luqman & Hammoudeh, ACM TALLIP 23(1), 2024 (the notebook in shared/seed)."""

    def __init__(self, in_features: int, n_classes: int, frames: int = 30):
        super().__init__()
        self.rnn = nn.Sequential(
            KerasLSTM(in_features, 64),
            KerasLSTM(64, 128),
            KerasLSTM(128, 64, return_sequences=False),
        )
        self.head = _seed_head(64, n_classes)

    def forward(self, x, frame_mask=None):
        return self.head(self.rnn(x))


@register_model("lstm", "seed", "the seed's LSTM 64-128-64 (relu) + Dense 64-32")
def build_lstm(in_features: int, n_classes: int, frames: int = 30) -> nn.Module:
    return SeedLSTM(in_features, n_classes, frames)


# ---------------------------------------------------------------------------------------
# tcn: the notebook's three stacked keras-tcn TCNs
# ---------------------------------------------------------------------------------------


class CausalConv1d(nn.Conv1d):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(cin, cout, kernel, dilation=dilation, groups=groups, bias=bias)
        self.left = (kernel - 1) * dilation

    def forward(self, x):  # (B, C, T)
        return super().forward(F.pad(x, (self.left, 0)))


class TCNResidualBlock(nn.Module):
    """keras-tcn's ResidualBlock: two dilated causal convs (relu), a 1x1 conv to match
    channels where they differ, relu(residual + convs); the convs' output is the skip."""

    def __init__(self, cin: int, filters: int, kernel: int, dilation: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = CausalConv1d(cin, filters, kernel, dilation)
        self.conv2 = CausalConv1d(filters, filters, kernel, dilation)
        self.match = nn.Conv1d(cin, filters, 1) if cin != filters else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight)  # keras-tcn's he_normal

    def forward(self, x):
        y = self.dropout(torch.relu(self.conv1(x)))
        y = self.dropout(torch.relu(self.conv2(y)))
        return torch.relu(self.match(x) + y), y


class KerasTCN(nn.Module):
    """keras-tcn's TCN with its defaults: kernel 3, dilations 1..32, one stack, skip
    connections summed; `return_sequences=False` keeps the last step."""

    def __init__(
        self,
        cin: int,
        filters: int,
        return_sequences: bool = True,
        kernel: int = 3,
        dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    ):
        super().__init__()
        self.return_sequences = return_sequences
        self.blocks = nn.ModuleList(
            TCNResidualBlock(cin if i == 0 else filters, filters, kernel, d) for i, d in enumerate(dilations)
        )

    def forward(self, x):  # (B, T, C)
        x = x.transpose(1, 2)
        skips = 0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        out = skips.transpose(1, 2)
        return out if self.return_sequences else out[:, -1]


class SeedTCN(nn.Module):
    """The seed notebook's `model_TCN3`: TCN 64, 128, 64 + Dense 64, 32, n.
    Origin: the notebook in shared/seed, built on philipperemy/keras-tcn."""

    def __init__(self, in_features: int, n_classes: int, frames: int = 30):
        super().__init__()
        self.tcn = nn.Sequential(
            KerasTCN(in_features, 64), KerasTCN(64, 128), KerasTCN(128, 64, return_sequences=False)
        )
        self.head = _seed_head(64, n_classes)

    def forward(self, x, frame_mask=None):
        return self.head(self.tcn(x))


@register_model("tcn", "seed", "the seed's TCN 64-128-64 (keras-tcn) + Dense 64-32")
def build_tcn(in_features: int, n_classes: int, frames: int = 30) -> nn.Module:
    return SeedTCN(in_features, n_classes, frames)


# ---------------------------------------------------------------------------------------
# transformer: the notebook's encoder (after the Keras time-series transformer example)
# ---------------------------------------------------------------------------------------


class KerasMHA(nn.Module):
    """Keras MultiHeadAttention: per-head key size independent of the model width."""

    def __init__(self, dim: int, heads: int, key_dim: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.key_dim, self.dropout = heads, key_dim, dropout
        self.q = nn.Linear(dim, heads * key_dim)
        self.k = nn.Linear(dim, heads * key_dim)
        self.v = nn.Linear(dim, heads * key_dim)
        self.out = nn.Linear(heads * key_dim, dim)

    def forward(self, x, key_mask=None):  # key_mask: (B, T) True = attend
        b, t, _ = x.shape

        def split(y):
            return y.view(b, t, self.heads, self.key_dim).transpose(1, 2)

        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(
            split(self.q(x)),
            split(self.k(x)),
            split(self.v(x)),
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class SeedEncoderBlock(nn.Module):
    """The notebook's `transformer_encoder`: pre-norm attention and a 1x1-conv feed-forward."""

    def __init__(self, dim: int, heads: int, key_dim: int, ff: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = KerasMHA(dim, heads, key_dim, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, key_mask=None):
        x = x + self.dropout(self.attn(self.norm1(x), key_mask))
        return x + self.ff(self.norm2(x))


def _attend_mask(frame_mask):
    """Mask all-absent frames as keys, but never a whole sequence (that would give NaN)."""
    if frame_mask is None:
        return None
    return frame_mask | ~frame_mask.any(dim=1, keepdim=True)


class SeedTransformer(nn.Module):
    """The seed notebook's transformer encoder: learned positional embedding, 4 blocks of
    9 heads x key size 256 with a 2048 feed-forward (dropout 0.25), then MLP 128
    (dropout 0.4). Origin: the notebook in shared/seed, after the Keras example
    "Timeseries classification with a Transformer model".

    pool='features' keeps the notebook's GlobalAveragePooling1D(data_format="channels_first"),
    which averages over the features and leaves one value per frame (its published
    numbers come from that); pool='time' averages over the visible frames instead.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        frames: int = 30,
        heads: int = 9,
        key_dim: int = 256,
        ff: int = 2048,
        blocks: int = 4,
        mlp: int = 128,
        dropout: float = 0.25,
        mlp_dropout: float = 0.4,
        pool: str = "features",
    ):
        super().__init__()
        if pool not in ("features", "time"):
            raise SignposeError(f"transformer pool must be 'features' or 'time', not {pool!r}")
        self.pool = pool
        self.position = nn.Embedding(frames, in_features)
        self.blocks = nn.ModuleList(SeedEncoderBlock(in_features, heads, key_dim, ff, dropout) for _ in range(blocks))
        pooled = frames if pool == "features" else in_features
        self.head = nn.Sequential(nn.Linear(pooled, mlp), nn.ReLU(), nn.Dropout(mlp_dropout), nn.Linear(mlp, n_classes))

    def forward(self, x, frame_mask=None):
        t = x.shape[1]
        x = x + self.position(torch.arange(t, device=x.device))
        key_mask = _attend_mask(frame_mask)
        for block in self.blocks:
            x = block(x, key_mask)
        if self.pool == "features":
            pooled = x.mean(dim=2)
        else:
            w = (key_mask if key_mask is not None else torch.ones_like(x[..., 0], dtype=torch.bool)).to(x.dtype)
            pooled = (x * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)
        return self.head(pooled)


@register_model(
    "transformer",
    "seed-transformer",
    "the seed's transformer encoder (4 blocks, 9x256 heads, ff 2048)",
)
def build_transformer(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return SeedTransformer(in_features, n_classes, frames, **options)


# ---------------------------------------------------------------------------------------
# islr: 1D-CNN + Transformer, the design that won Google's Isolated Sign Language
# Recognition competition on MediaPipe landmarks (1st place, Kaggle 2023, "hoyso48")
# ---------------------------------------------------------------------------------------


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)


class ECA(nn.Module):
    """Efficient channel attention: a 1D conv over the pooled channels gates each channel."""

    def __init__(self, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x, w):  # x (B, T, C); w (B, T, 1) frame weights
        pooled = (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        return x * torch.sigmoid(self.conv(pooled.unsqueeze(1)))  # (B, 1, C) gates broadcast over time


class ConvBlock(nn.Module):
    """Expand (x2, swish), depthwise causal conv (kernel 17), batch norm, ECA, project,
    drop path, residual."""

    def __init__(
        self,
        dim: int,
        kernel: int = 17,
        expand: int = 2,
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        inner = dim * expand
        self.expand = nn.Linear(dim, inner)
        self.dw = CausalConv1d(inner, inner, kernel, groups=inner, bias=False)
        self.bn = nn.BatchNorm1d(inner, momentum=0.05)
        self.eca = ECA()
        self.project = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x, w):
        y = F.silu(self.expand(x)) * w
        y = self.bn(self.dw(y.transpose(1, 2))).transpose(1, 2)
        y = self.eca(y, w)
        return x + self.drop_path(self.dropout(self.project(y)))


class TransformerBlock(nn.Module):
    """Pre-norm multi-head attention and a x2 swish feed-forward, with drop path."""

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        expand: int = 2,
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = KerasMHA(dim, heads, dim // heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, dim * expand),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(dim * expand, dim),
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x, key_mask):
        x = x + self.drop_path(self.attn(self.norm1(x), key_mask))
        return x + self.drop_path(self.ff(self.norm2(x)))


class ISLRNet(nn.Module):
    """1D-CNN + Transformer after the 1st-place solution of Google's Isolated Sign Language
    Recognition competition (Kaggle 2023, "hoyso48"): a linear stem with batch norm, then
    `groups` x (3 depthwise-causal-conv blocks with kernel 17 + 1 transformer block),
    masked average pooling over time, heavy dropout before the classifier. Width 192 and
    two groups give about 1.9M parameters on the `rich` features."""

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        frames: int = 30,
        dim: int = 192,
        groups: int = 2,
        conv_blocks: int = 3,
        kernel: int = 17,
        heads: int = 4,
        dropout: float = 0.2,
        drop_path: float = 0.1,
        head_dropout: float = 0.5,
    ):
        super().__init__()
        self.stem = nn.Linear(in_features, dim, bias=False)
        self.stem_bn = nn.BatchNorm1d(dim, momentum=0.05)
        layers: list[nn.Module] = []
        for _ in range(groups):
            layers += [ConvBlock(dim, kernel, dropout=dropout, drop_path=drop_path) for _ in range(conv_blocks)]
            layers.append(TransformerBlock(dim, heads, dropout=dropout, drop_path=drop_path))
        self.layers = nn.ModuleList(layers)
        self.top = nn.Linear(dim, dim * 2)
        self.head_dropout = nn.Dropout(head_dropout)
        self.classifier = nn.Linear(dim * 2, n_classes)

    def forward(self, x, frame_mask=None):
        if frame_mask is None:
            frame_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        key_mask = _attend_mask(frame_mask)
        w = key_mask.unsqueeze(-1).to(x.dtype)
        x = self.stem_bn(self.stem(x).transpose(1, 2)).transpose(1, 2) * w
        for layer in self.layers:
            x = layer(x, w) if isinstance(layer, ConvBlock) else layer(x, key_mask)
        x = self.top(x)
        pooled = (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        return self.classifier(self.head_dropout(pooled))


@register_model("islr", "islr", "1D-CNN + Transformer (Google ISLR 1st place design)")
def build_islr(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return ISLRNet(in_features, n_classes, frames, **options)


# ---------------------------------------------------------------------------------------
# cnn: the plain 1D-CNN baseline that the accuracy work measures against
# ---------------------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, frame_mask: torch.Tensor | None) -> torch.Tensor:
    """Average over time (B, T, C) -> (B, C) of the frames that were seen."""
    if frame_mask is None:
        return x.mean(1)
    w = _attend_mask(frame_mask).unsqueeze(-1).to(x.dtype)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


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


@register_model("cnn", "cnn", "plain 1D-CNN baseline: 2 x Conv1d 128 (kernel 5), BN, dropout, average pooling")
def build_cnn(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return BaselineCNN(in_features, n_classes, frames, **options)


# ---------------------------------------------------------------------------------------
# The whole classifier: features + model
# ---------------------------------------------------------------------------------------


MAX_PARAMETERS = 200_000_000  # about 0.8 GB of weights, far above any sign model; a typo above it


class SignClassifier(nn.Module):
    """Prepared points (B, T, P, 2) + mask (B, T, P) -> logits (B, classes)."""

    def __init__(self, model: str, pipeline: FeaturePipeline, n_classes: int, options: dict | None = None):
        super().__init__()
        spec = model_spec(model)
        self.features = pipeline.head()
        build = functools.partial(spec.build, pipeline.size, n_classes, pipeline.config.frames, **(options or {}))
        try:
            with torch.device("meta"):  # sized without memory first: one option can ask for gigabytes
                size = count_parameters(build())
            if size > MAX_PARAMETERS:
                raise SignposeError(
                    f"model {model!r} with options {options} would have {size:,} parameters, more than "
                    f"{MAX_PARAMETERS:,}; choose smaller --model-options"
                )
            self.model = build()
        except (TypeError, ValueError, RuntimeError) as e:
            raise SignposeError(f"model {model!r} does not take these options {options}: {e}") from None

    def forward(self, points, mask):
        x, frame_mask = self.features(points, mask)
        return self.model(x, frame_mask)


def describe_models(features: FeatureConfig | None = None, n_classes: int = 100) -> list[dict]:
    """Name, parameters, input shape and default recipe of each model (`signpose models`)."""
    pipeline = FeaturePipeline(features or FeatureConfig())
    rows = []
    for name, spec in MODELS.items():
        model = spec.build(pipeline.size, n_classes, pipeline.config.frames)
        rows.append(
            {
                "model": name,
                "parameters": count_parameters(model),
                "recipe": spec.recipe,
                "input": f"{pipeline.config.frames} x {pipeline.size}",
                "description": spec.description,
            }
        )
    return rows
