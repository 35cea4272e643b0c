"""On-the-fly augmentation of point batches, vectorised over the batch (torch). Its
settings (`AugmentConfig` and the presets) are part of a run's config: `model.augmentation`.

Works on points (B, T, P, 2) and mask (B, T, P) from `features.prepare_points`. Each
transform is drawn per sample with its probability from `AugmentConfig`. Geometry is
transformed about each sample's body centre (the mean of its visible points), not the
image corner. Masks are only ever narrowed: an absent point never becomes present.

The seed notebook's own transforms are kept as `seed_rotation` (a random integer angle in
[-5, 5] degrees about the image corner) and `seed_scale` (a factor round(U[0, 1), 2),
which can zero a whole sample) for comparisons only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..model.augmentation import AugmentConfig
from ..model.features import FeatureSet

Transform = Callable[[torch.Tensor, torch.Tensor, "Context"], tuple[torch.Tensor, torch.Tensor]]
TRANSFORMS: dict[str, Transform] = {}


def register(name: str):
    def wrap(fn: Transform) -> Transform:
        TRANSFORMS[name] = fn
        return fn

    return wrap


class Context:
    """What the transforms need besides the batch: the config, a generator, the layout."""

    def __init__(self, config: AugmentConfig, fs: FeatureSet, generator: torch.Generator | None = None):
        self.config = config
        self.fs = fs
        self.generator = generator
        self.hands = [torch.as_tensor(g) for g in fs.hand_groups()]
        self.mirror = torch.as_tensor(fs.mirror())

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator)

    def uniform(self, lo: float, hi: float, n: int) -> torch.Tensor:
        return lo + (hi - lo) * self.rand(n)

    def chosen(self, p: float, n: int) -> torch.Tensor:
        return self.rand(n) < p


def _centre(pts: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(pts.dtype)
    return (pts * m).sum(dim=(1, 2)) / m.sum(dim=(1, 2)).clamp_min(1.0)  # (B, 2)


@register("affine")
def affine(pts, mask, ctx: Context):
    """Rotation, scale, shear and shift about the body centre, one matrix per sample."""
    c = ctx.config
    b = pts.shape[0]
    angle = torch.deg2rad(ctx.uniform(-c.rotate_deg, c.rotate_deg, b)) * ctx.chosen(c.rotate_p, b)
    scale = torch.where(ctx.chosen(c.scale_p, b), ctx.uniform(*c.scale_range, b), torch.ones(b))
    shear = ctx.uniform(-c.shear, c.shear, b) * ctx.chosen(c.shear_p, b)
    shift = (ctx.rand(b, 2) * 2 - 1) * c.shift * ctx.chosen(c.shift_p, b).unsqueeze(-1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    sh = torch.eye(2).repeat(b, 1, 1)
    sh[:, 0, 1] = shear
    matrix = rot @ sh * scale.view(b, 1, 1)
    # (p - c) M^T + c + shift = p M^T + (c + shift - c M^T): one batched matmul pass
    centre = _centre(pts, mask).view(b, 1, 2)
    bias = centre + shift.view(b, 1, 2) - centre @ matrix.transpose(1, 2)
    out = torch.baddbmm(bias, pts.reshape(b, -1, 2), matrix.transpose(1, 2))
    return out.view_as(pts), mask


@register("body")
def body_and_camera(pts, mask, ctx: Context):
    """People and cameras unlike the training ones: x and y scaled apart (the ratio drawn
    log-uniformly, area kept), and each hand resized about its wrist by its own factor."""
    c = ctx.config
    b = pts.shape[0]
    lo, hi = (torch.log(torch.tensor(v)) for v in c.aspect_range)
    ratio = torch.exp(ctx.uniform(float(lo), float(hi), b)) * ctx.chosen(c.aspect_p, b)
    ratio = torch.where(ratio > 0, ratio, torch.ones(b))
    centre = _centre(pts, mask).view(b, 1, 1, 2)
    axes = torch.stack([ratio.sqrt(), 1 / ratio.sqrt()], -1).view(b, 1, 1, 2)
    out = (pts - centre) * axes + centre
    for idx in ctx.hands:
        grow = torch.where(ctx.chosen(c.hand_scale_p, b), ctx.uniform(*c.hand_scale, b), torch.ones(b))
        wrist = out[:, :, idx[:1]]  # (B, T, 1, 2): the hand's first point is its wrist
        out[:, :, idx] = (out[:, :, idx] - wrist) * grow.view(b, 1, 1, 1) + wrist
    return out, mask


@register("time")
def time_warp_and_crop(pts, mask, ctx: Context):
    """Speed changes (a monotone warp of time) and random crops, resampled back to T."""
    c = ctx.config
    n = pts.shape[0]
    warp, crop = ctx.chosen(c.time_warp_p, n), ctx.chosen(c.crop_p, n)
    gamma = torch.where(warp, ctx.uniform(*c.time_warp, n), torch.ones(n))
    keep = torch.where(crop, ctx.uniform(c.crop_min, 1.0, n), torch.ones(n))
    start = ctx.rand(n) * (1 - keep)
    sel = torch.nonzero(warp | crop).flatten()  # only the chosen samples are resampled
    if len(sel) == 0:
        return pts, mask
    pts, mask = pts.clone(), mask.clone()
    pts[sel], mask[sel] = _resample_time(pts[sel], mask[sel], start[sel], keep[sel], gamma[sel])
    return pts, mask


def _resample_time(pts, mask, start, keep, gamma):
    b, t = pts.shape[:2]
    u = torch.linspace(0, 1, t).expand(b, t)
    pos = (start.unsqueeze(1) + keep.unsqueeze(1) * u.pow(gamma.unsqueeze(1))) * (t - 1)
    lo = pos.floor().long().clamp(0, t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = (pos - lo).view(b, t, 1, 1)

    def take(x, idx):
        return torch.gather(x, 1, idx.view(b, t, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:]))

    out = take(pts, lo) * (1 - w) + take(pts, hi) * w
    exact = w.view(b, t, 1) == 0
    new_mask = take(mask, lo) & (take(mask, hi) | exact)
    return out, new_mask


@register("dropout")
def dropout(pts, mask, ctx: Context):
    """Whole frames, single points, or one whole hand go missing."""
    c = ctx.config
    b, t, p = mask.shape
    keep = torch.ones_like(mask)
    frames = torch.nonzero(ctx.chosen(c.frame_drop_p, b)).flatten()
    keep[frames] &= ctx.rand(len(frames), t, 1) >= c.frame_drop
    points = torch.nonzero(ctx.chosen(c.point_drop_p, b)).flatten()
    keep[points] &= ctx.rand(len(points), t, p) >= c.point_drop
    if ctx.hands:
        which = (ctx.rand(b) * len(ctx.hands)).long()
        drop_hand = ctx.chosen(c.hand_drop_p, b)
        for i, idx in enumerate(ctx.hands):
            lose = (drop_hand & (which == i)).view(b, 1, 1)
            keep[:, :, idx] &= ~lose
    return pts, mask & keep


@register("mirror")
def mirror(pts, mask, ctx: Context):
    """Left/right mirror about the body centre, swapping left and right points (hands)."""
    b = pts.shape[0]
    flip = ctx.chosen(ctx.config.mirror_p, b)
    if not flip.any():
        return pts, mask
    sel = torch.nonzero(flip).flatten()
    sub_pts, sub_mask = pts[sel][:, :, ctx.mirror], mask[sel][:, :, ctx.mirror]
    centre = _centre(sub_pts, sub_mask)
    sub_pts[..., 0] = 2 * centre[:, 0].view(-1, 1, 1) - sub_pts[..., 0]
    pts, mask = pts.clone(), mask.clone()
    pts[sel], mask[sel] = sub_pts, sub_mask
    return pts, mask


@register("seed")
def seed_transforms(pts, mask, ctx: Context):
    """The notebook's rotation about the image corner (0, 0) and its [0, 1) scaling,
    mutually exclusive like its offline copies (original, rotated, scaled)."""
    c = ctx.config
    b = pts.shape[0]
    draw = ctx.rand(b)
    rotate = draw < c.seed_rotation_p
    scale = (draw >= c.seed_rotation_p) & (draw < c.seed_rotation_p + c.seed_scale_p)
    degrees = torch.floor(ctx.rand(b) * 11) - 5  # random.randint(-5, 5)
    theta = torch.deg2rad(degrees) * rotate
    cos, sin = torch.cos(theta), torch.sin(theta)
    x, y = pts[..., 0], pts[..., 1]
    view = (b, 1, 1)
    out = torch.stack([cos.view(view) * x - sin.view(view) * y, sin.view(view) * x + cos.view(view) * y], -1)
    factor = torch.where(scale, torch.round(ctx.rand(b) * 100) / 100, torch.ones(b))
    return out * factor.view(b, 1, 1, 1), mask


ORDER = ("seed", "mirror", "affine", "body", "time", "dropout")


class Augmenter:
    """Applies the configured transforms to a batch; absent points end as exact zeros."""

    def __init__(self, config: AugmentConfig, fs: FeatureSet, seed: int | None = None):
        self.config = config
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.ctx = Context(config, fs, gen)
        c = config
        active = {
            "seed": c.seed_rotation_p > 0 or c.seed_scale_p > 0,
            "mirror": c.mirror_p > 0,
            "affine": max(c.rotate_p, c.scale_p, c.shear_p, c.shift_p) > 0,
            "body": max(c.aspect_p, c.hand_scale_p) > 0,
            "time": max(c.time_warp_p, c.crop_p) > 0,
            "dropout": max(c.frame_drop_p, c.point_drop_p, c.hand_drop_p) > 0,
        }
        self.transforms = [TRANSFORMS[name] for name in ORDER if active[name]]

    def __call__(self, pts: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for transform in self.transforms:
            pts, mask = transform(pts, mask, self.ctx)
        return pts * mask.unsqueeze(-1).to(pts.dtype), mask
