"""How this process trains a run (`RuntimeConfig`): devices, data loader workers, a time
limit. Not part of what the run is, so free to change between a run and its resumption."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..settings import Settings


class RuntimeConfig(Settings):
    """How this process trains: not part of the run's identity."""

    accelerator: str = Field("auto", description="passed to Lightning: cpu, gpu, auto")
    devices: str = Field("auto", description="passed to Lightning: a count, a list or auto")
    strategy: str = Field("auto", description="passed to Lightning: auto, ddp, ...")
    num_workers: int = Field(0, ge=0, le=256, description="data loader processes")
    max_minutes: float | None = Field(None, gt=0, description="stop training after this many minutes")
    progress_file: str | None = Field(
        None,
        description="also write each epoch's progress (epoch, epochs, losses) as JSON to this file, for a page "
        "or a script to show (the web app's Train button reads it)",
    )

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: str) -> str:
        if value.isdigit() and int(value) < 1:
            raise ValueError("devices must be at least 1 (or auto)")
        return value

    @property
    def lightning_devices(self) -> int | str:
        return int(self.devices) if self.devices.isdigit() else self.devices
