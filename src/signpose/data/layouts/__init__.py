"""Finding the samples of a dataset on disk, and what each one is: one module per layout,
registered by name (`signpose layouts` lists them; `--layout auto` picks the one that
recognises a folder). The machinery is in `registry`."""

# isort: skip_file
# Registered in this order (listed and documented so): KArSL first, the generic folders last.
from . import karsl, lsa64, autsl, wlasl, include, asl_citizen, folders  # noqa: F401  (they register)
from .registry import (
    LAYOUTS,
    Layout,
    SampleSpec,
    detect_layout,
    discover,
    layout_names,
    layout_table,
    register_layout,
)

__all__ = [
    "LAYOUTS",
    "Layout",
    "SampleSpec",
    "detect_layout",
    "discover",
    "layout_names",
    "layout_table",
    "register_layout",
]
