"""The demo model: a small CNN that measures septal thickness frame by frame.

Each frame (96 × 96 pixels at 0.5 mm per pixel) goes through the same convolutional encoder,
which regresses the septal thickness in that frame. End-diastole is the frame where the septum
is thinnest, so the study's IVSd is the minimum over frames, passed through a linear calibration
fitted on the development cohort. The LVH probability is a logistic function of IVSd, also
fitted there.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameEncoder(nn.Module):
    """Convolutional regression of the septal thickness (mm) in one frame."""

    def __init__(self, width: int = 12) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 5, stride=2, padding=2),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),
            nn.Conv2d(4 * w, 4 * w, 3, stride=2, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(4 * w, 32), nn.ReLU(inplace=True), nn.Linear(32, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) → thickness (N,) in mm."""
        return self.head(self.features(x))[:, 0] + 10.0


class IVSdModel(nn.Module):
    """Study-level model: (batch, frames, H, W) → (IVSd in mm, LVH probability)."""

    def __init__(self, width: int = 12) -> None:
        super().__init__()
        self.encoder = FrameEncoder(width)
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))  # slope, intercept
        self.register_buffer("logistic", torch.tensor([11.0, 0.5]))  # midpoint (mm), scale (mm)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, n_frames, height, width = frames.shape
        per_frame = self.encoder(frames.reshape(batch * n_frames, 1, height, width))
        raw = per_frame.reshape(batch, n_frames).min(dim=1).values
        ivsd = self.calibration[0] * raw + self.calibration[1]
        probability = torch.sigmoid((ivsd - self.logistic[0]) / self.logistic[1])
        return ivsd, probability
