"""Deterministic sample data: the same seed gives the same rows, at any scale."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from decimal import Decimal

from suppliers.data.demo import DEMO_VENDOR_IDS
from suppliers.data.loading import ProductRow, VendorRow
from suppliers.inventory.qualification import QUALIFICATIONS

_ADJECTIVES = (
    "Anodized",
    "Brass",
    "Compact",
    "Durable",
    "Galvanized",
    "Heavy",
    "Insulated",
    "Light",
    "Magnetic",
    "Nylon",
    "Precision",
    "Reinforced",
    "Sealed",
    "Stainless",
    "Tempered",
    "Threaded",
    "Coated",
    "Flexible",
)
_NOUNS = (
    "Bearing",
    "Bolt",
    "Bracket",
    "Cable",
    "Clamp",
    "Coupling",
    "Fan",
    "Filter",
    "Fitting",
    "Gasket",
    "Gear",
    "Hinge",
    "Hose",
    "Nozzle",
    "Nut",
    "Pulley",
    "Relay",
    "Sensor",
    "Spring",
    "Switch",
    "Valve",
    "Washer",
)


# Most products need little qualification; few need an A vendor.
def _weighted(*shares: int) -> tuple[str, ...]:
    """Each grade, best first, repeated its share of ten times: what rng.choice draws from."""
    return tuple(grade for grade, share in zip(QUALIFICATIONS, shares, strict=True) for _ in range(share))


_REQUIRED = _weighted(2, 3, 5)
_HELD = _weighted(2, 4, 4)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def vendors(count: int, seed: int) -> list[VendorRow]:
    """``count`` vendors (at least the 26 demo ones), the demo vendors first."""
    rng = random.Random(f"vendors:{seed}")
    rows: list[VendorRow] = [(vendor_id, rng.choice(_HELD)) for vendor_id in DEMO_VENDOR_IDS]
    rows.extend((_uuid(rng), rng.choice(_HELD)) for _ in range(max(count - len(rows), 0)))
    return rows


def products(count: int, seed: int, *, batch_size: int = 50_000) -> Iterator[list[ProductRow]]:
    """``count`` products in batches, so a million rows never sit in memory at once."""
    rng = random.Random(f"products:{seed}")
    batch: list[ProductRow] = []
    for number in range(1, count + 1):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {number:07d}"
        price = Decimal(rng.randint(50, 99_999)) / 100
        # About a tenth start under the default resupply threshold, so resupply has work to show.
        quantity = rng.randint(0, 49) if rng.random() < 0.1 else rng.randint(50, 1000)
        batch.append((_uuid(rng), name, price, quantity, rng.choice(_REQUIRED)))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
