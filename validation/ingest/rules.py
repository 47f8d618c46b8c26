"""How a model's images are read: the rules its model card and the protocol state.

The model card's ``inputs`` says what the model can read: how colour becomes its input
(``colour``: ``luminance``, the only conversion so far, or ``reject``), the fewest frames
it needs (``min_frames``), the smallest 2D region it measures (``min_region_mm``: depth and
width in mm) and what to do with several 2D regions (``regions``: ``single`` or
``largest``, see :data:`validation.ingest.dicom.REGION_RULES`). The protocol's
``images.spacing_sources`` says where the physical pixel size may come from
(:data:`validation.ingest.dicom.SPACING_SOURCES`). Ingestion is shared by every locked
version, so it applies the strictest of their rules (:func:`combine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from validation.exceptions import ConfigError
from validation.ingest.dicom import REGION_RULES, SPACING_SOURCES

if TYPE_CHECKING:
    from validation.model.card import ModelCard
    from validation.protocol import Protocol

#: How colour images become the model's single-channel input.
COLOUR_RULES = ("luminance", "reject")


@dataclass(frozen=True)
class ImageRules:
    """The reading rules of one model (or the strictest of several)."""

    regions: str = "single"
    spacing_sources: tuple[str, ...] = ("ultrasound_regions",)
    min_frames: int = 1
    colour: str = "luminance"
    min_region_mm: tuple[float, float] = (0.0, 0.0)  # (depth, width) of the 2D region

    def __post_init__(self) -> None:
        if self.regions not in REGION_RULES:
            raise ConfigError(f"inputs.regions must be one of {REGION_RULES}, got {self.regions!r}")
        if self.colour not in COLOUR_RULES:
            raise ConfigError(f"inputs.colour must be one of {COLOUR_RULES}, got {self.colour!r}")
        unknown = sorted(set(self.spacing_sources) - set(SPACING_SOURCES))
        if unknown or not self.spacing_sources:
            raise ConfigError(
                f"images.spacing_sources must be a non-empty list of {SPACING_SOURCES}, "
                f"got {list(self.spacing_sources)}"
            )
        if isinstance(self.min_frames, bool) or not isinstance(self.min_frames, int):
            raise ConfigError(f"inputs.min_frames must be an integer, got {self.min_frames!r}")
        if self.min_frames < 1:
            raise ConfigError(f"inputs.min_frames must be at least 1, got {self.min_frames}")
        if len(self.min_region_mm) != 2 or not all(v >= 0 for v in self.min_region_mm):
            raise ConfigError(
                f"inputs.min_region_mm must be [depth, width] in mm, got {self.min_region_mm}"
            )

    @classmethod
    def from_card(
        cls, inputs: Mapping[str, Any] | None, spacing_sources: Iterable[str] | None = None
    ) -> ImageRules:
        """The rules of a model card's ``inputs`` (absent keys: the defaults above)."""
        inputs = inputs or {}
        rules = cls(
            regions=inputs.get("regions", cls.regions),
            min_frames=inputs.get("min_frames", cls.min_frames),
            colour=inputs.get("colour", cls.colour),
            min_region_mm=_pair(inputs.get("min_region_mm", cls.min_region_mm)),
        )
        if spacing_sources is not None:
            rules = replace(rules, spacing_sources=tuple(spacing_sources))
        return rules


def _pair(value: Any) -> tuple[float, float]:
    """``[depth, width]`` as two floats (the schema checked it is two numbers)."""
    depth, width = (float(v) for v in value)
    return depth, width


def combine(rules: Iterable[ImageRules]) -> ImageRules:
    """The strictest of several models' rules: the most frames, a single region if any
    model reads only one, colour rejected if any model rejects it; the spacing sources must
    agree (they come from the one protocol)."""
    rules = list(rules)
    if not rules:
        return ImageRules()
    sources = {r.spacing_sources for r in rules}
    if len(sources) > 1:
        raise ConfigError(f"the models' spacing sources differ: {sorted(sources)}")
    return ImageRules(
        regions="single" if any(r.regions == "single" for r in rules) else "largest",
        spacing_sources=rules[0].spacing_sources,
        min_frames=max(r.min_frames for r in rules),
        colour="reject" if any(r.colour == "reject" for r in rules) else "luminance",
        min_region_mm=(
            max(r.min_region_mm[0] for r in rules),
            max(r.min_region_mm[1] for r in rules),
        ),
    )


def model_rules(protocol: Protocol, card: ModelCard) -> ImageRules:
    """The rules of one locked model version under ``protocol``."""
    return ImageRules.from_card(card.fields.get("inputs"), protocol.spacing_sources)


def protocol_rules(protocol: Protocol) -> ImageRules:
    """The strictest rules of every model version ``protocol`` locks (for ingestion, which
    every version shares)."""
    from validation.model.card import read_card

    return combine(model_rules(protocol, read_card(v.path)) for v in protocol.models)
