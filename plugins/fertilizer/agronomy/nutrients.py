"""Nutrient vectors, units and the explanation record shared by all methods.

Nutrients are always expressed in oxide form as on Chinese fertilizer labels: N, P2O5, K2O.
Internally everything is SI (kg per hectare); 1 ha = 15 mu.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

NUTRIENTS: tuple[str, str, str] = ("N", "P2O5", "K2O")
Nutrient = Literal["N", "P2O5", "K2O"]
AreaUnit = Literal["mu", "ha"]

MU_PER_HA = 15.0
#: kg of plough-layer (0-20 cm) soil per area unit: mg/kg x factor = kg nutrient per area unit.
SOIL_FACTOR: dict[str, float] = {"mu": 0.15, "ha": 2.25}


def per_mu_to_per_ha(value: float) -> float:
    return value * MU_PER_HA


def per_ha_to_per_mu(value: float) -> float:
    return value / MU_PER_HA


@dataclass(frozen=True, slots=True)
class NPK:
    """Three numbers keyed by nutrient (kg, mg/kg, kg per 100 kg, fractions ... depending on use)."""

    N: float = 0.0
    P2O5: float = 0.0
    K2O: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, float]) -> NPK:
        return cls(float(data["N"]), float(data["P2O5"]), float(data["K2O"]))

    @classmethod
    def uniform(cls, value: float) -> NPK:
        return cls(value, value, value)

    def get(self, nutrient: str) -> float:
        return float(getattr(self, nutrient))

    def as_dict(self) -> dict[str, float]:
        return {"N": self.N, "P2O5": self.P2O5, "K2O": self.K2O}

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.N, self.P2O5, self.K2O)

    def map(self, fn: Callable[[float], float]) -> NPK:
        return NPK(fn(self.N), fn(self.P2O5), fn(self.K2O))

    def scale(self, factor: float) -> NPK:
        return self.map(lambda v: v * factor)

    def __add__(self, other: NPK) -> NPK:
        return NPK(self.N + other.N, self.P2O5 + other.P2O5, self.K2O + other.K2O)

    def __sub__(self, other: NPK) -> NPK:
        return NPK(self.N - other.N, self.P2O5 - other.P2O5, self.K2O - other.K2O)

    def rounded(self, digits: int = 2) -> dict[str, float]:
        return {k: round(v, digits) + 0.0 for k, v in self.as_dict().items()}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a method/value was chosen: a stable English code plus a Chinese explanation for users."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
