"""The seed notebook's three Keras models, reproduced layer for layer (parameter counts
match its Keras summaries): `lstm`, `tcn` and `transformer`. Each keeps the notebook's
architecture, including what the notebook gets wrong, behind an option where it is wrong
(the transformer's pooling over features: `model_options: {"pool": "time"}` fixes it)."""

from __future__ import annotations

import torch
from torch import nn

from ...errors import SignposeError
from .layers import CausalConv1d, KerasMHA, attend_mask, check_rates, check_sizes
from .registry import register_model


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

    head_dropout = None  # no dropout before the classifier: late dropout does not apply

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


@register_model(
    "lstm",
    "seed",
    "the seed's LSTM 64-128-64 (relu) + Dense 64-32",
    origin="the notebook's LSTM 64-128-64 (relu) + Dense 64-32; matches its Keras summary",
)
def build_lstm(in_features: int, n_classes: int, frames: int = 30) -> nn.Module:
    return SeedLSTM(in_features, n_classes, frames)


# ---------------------------------------------------------------------------------------
# tcn: the notebook's three stacked keras-tcn TCNs
# ---------------------------------------------------------------------------------------


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

    head_dropout = None  # no dropout before the classifier: late dropout does not apply

    def __init__(self, in_features: int, n_classes: int, frames: int = 30):
        super().__init__()
        self.tcn = nn.Sequential(
            KerasTCN(in_features, 64), KerasTCN(64, 128), KerasTCN(128, 64, return_sequences=False)
        )
        self.head = _seed_head(64, n_classes)

    def forward(self, x, frame_mask=None):
        return self.head(self.tcn(x))


@register_model(
    "tcn",
    "seed",
    "the seed's TCN 64-128-64 (keras-tcn) + Dense 64-32",
    origin="the notebook's three keras-tcn TCNs 64-128-64 + Dense 64-32; matches its summary",
)
def build_tcn(in_features: int, n_classes: int, frames: int = 30) -> nn.Module:
    return SeedTCN(in_features, n_classes, frames)


# ---------------------------------------------------------------------------------------
# transformer: the notebook's encoder (after the Keras time-series transformer example)
# ---------------------------------------------------------------------------------------


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


class SeedTransformer(nn.Module):
    """The seed notebook's transformer encoder: learned positional embedding, 4 blocks of
    9 heads x key size 256 with a 2048 feed-forward (dropout 0.25), then MLP 128
    (dropout 0.4). Origin: the notebook in shared/seed, after the Keras example
    "Timeseries classification with a Transformer model".

    pool='features' keeps the notebook's GlobalAveragePooling1D(data_format="channels_first"),
    which averages over the features and leaves one value per frame (its published
    numbers come from that); pool='time' averages over the visible frames instead.
    """

    head_dropout = None  # no dropout before the classifier: late dropout does not apply

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
        check_sizes(heads=heads, key_dim=key_dim, ff=ff, blocks=blocks, mlp=mlp)
        check_rates(dropout=dropout, mlp_dropout=mlp_dropout)
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
        key_mask = attend_mask(frame_mask)
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
    origin=(
        "the notebook's encoder: learned positions, 4 blocks, 9 heads x 256, ff 2048 (4,530,076 parameters "
        "for the notebook's 84 hand features); its `GlobalAveragePooling1D(channels_first)` (pooling over "
        'features) is kept by default, `model_options: {"pool": "time"}` fixes it'
    ),
)
def build_transformer(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return SeedTransformer(in_features, n_classes, frames, **options)
