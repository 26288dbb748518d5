"""A deterministic sample distributor: products, customers, two years of order lines, cost rates, stock.

`generate_sample` builds the tables in memory from one seed (numpy's Generator, vectorised
over order lines); `write_sample` writes them to files (orders and stock snapshots as zstd
Parquet, the small tables as CSV) so that the same seed gives byte-identical files; `load_sample` loads such a
folder through `core.ingest`. Column names are the data-model names, so the default mapping
is exact.

Demand is simulated per product and week first (lines per week from a Poisson rate shaped by
the product's archetype: smooth, erratic, seasonal, promoted, intermittent, lumpy, new,
phase-out), so the weekly SBC patterns and the ABC Pareto are controlled; only then are lines
given customers, orders, dates and deliveries.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SegplanError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from core.ingest import IngestResult
    from core.store import Store

#: First day of the history: a Monday, so weeks are ISO weeks.
START_DATE = date(2024, 10, 7)
DEFAULT_SAMPLE_DIR = Path("sample_data")
#: Sizes for a tiny database that page tests can build in about a second.
TINY_SIZES = {"n_products": 60, "n_customers": 20, "weeks": 30}
#: File per table, in load order (masters before orders).
SAMPLE_FILES = {
    "products": "products.csv",
    "customers": "customers.csv",
    "cost_rates": "cost_rates.csv",
    "orders": "orders.parquet",
    "inventory": "inventory.parquet",
}
ORDER_COLUMNS = (
    "order_id", "line_number", "order_date", "customer_id", "product_id", "quantity",
    "unit_price", "unit_cost", "requested_date", "promised_date", "ship_date", "delivered_date",
    "delivered_quantity", "location_id", "channel", "shipment_id", "weight_kg", "ship_mode",
)
DATE_COLUMNS = ("order_date", "requested_date", "promised_date", "ship_date", "delivered_date")


@dataclass(frozen=True)
class _Category:
    name: str
    margin_range: tuple[float, float]
    unit_cost_median: float
    unit_weight_kg_median: float
    lead_time_days_median: float
    season_peak_week: int  # week of year (from the start date) where seasonal items peak
    nouns: tuple[str, ...]


CATEGORIES = (
    _Category("Fasteners", (0.38, 0.55), 0.8, 0.02, 21, 30, ("Hex bolt", "Wood screw", "Wall anchor", "Washer", "Threaded rod", "Rivet")),
    _Category("Electrical", (0.25, 0.40), 14.0, 0.4, 28, 10, ("Cable", "Circuit breaker", "Socket", "LED panel", "Junction box", "Contactor")),
    _Category("Plumbing", (0.28, 0.42), 9.0, 0.6, 24, 26, ("Ball valve", "Pipe fitting", "Tap", "Siphon", "Press coupling", "Hose")),
    _Category("Tools", (0.22, 0.35), 35.0, 1.1, 35, 11, ("Drill bit set", "Spanner", "Pliers", "Saw blade", "Screwdriver", "Tape measure")),
    _Category("Safety", (0.30, 0.48), 6.0, 0.3, 30, 13, ("Work glove", "Safety glasses", "Ear plug", "Hi-vis vest", "Hard hat", "Dust mask")),
    _Category("Cleaning", (0.18, 0.30), 4.5, 1.5, 14, 20, ("Detergent", "Degreaser", "Wipe roll", "Mop", "Bin liner", "Hand soap")),
    _Category("Packaging", (0.12, 0.22), 1.2, 0.8, 10, 8, ("Carton", "Stretch film", "Tape roll", "Pallet wrap", "Bubble wrap", "Label roll")),
    _Category("HVAC", (0.20, 0.33), 60.0, 3.0, 45, 36, ("Filter", "Radiator valve", "Fan coil", "Duct clamp", "Thermostat", "Heat pump part")),
)
_CATEGORY_SHARES = (0.20, 0.16, 0.14, 0.10, 0.12, 0.10, 0.08, 0.10)
_ATTRIBUTES = ("zinc", "steel", "stainless", "brass", "grey", "black", "white", "heavy-duty", "compact", "pro", "eco", "XL")

#: Demand archetypes and their share of products; the weekly SBC pattern follows from these.
ARCHETYPE_SHARES = {
    "smooth": 0.21, "erratic": 0.13, "seasonal": 0.09, "promoted": 0.07,
    "intermittent": 0.20, "lumpy": 0.18, "new": 0.05, "phase_out": 0.07,
}

REGIONS = ("North", "East", "Central", "South", "West")
#: Home distribution centre of each region; slow movers are stocked only centrally.
REGION_DC = {"North": "DC-NORTH", "East": "DC-NORTH", "Central": "DC-CENTRAL", "South": "DC-SOUTH", "West": "DC-SOUTH"}
LOCATIONS = ("DC-CENTRAL", "DC-NORTH", "DC-SOUTH")
_DC_LATE_FACTOR = {"DC-CENTRAL": 1.0, "DC-NORTH": 0.7, "DC-SOUTH": 1.8}
_DC_SHORT_FACTOR = {"DC-CENTRAL": 0.9, "DC-NORTH": 0.8, "DC-SOUTH": 1.4}


@dataclass(frozen=True)
class _Profile:
    """How a kind of customer orders and is served."""

    name: str
    share: float
    channel: str
    strategic: bool
    lines_weight_median: float   # relative share of order lines
    large_orders: bool           # draws the bigger lines of a product
    lines_per_order: float
    order_days: tuple[int, int]  # distinct order weekdays per week, low..high
    weekend: bool
    discount_range: tuple[float, float]
    express_share: float
    request_lead_days: tuple[int, int]
    late_factor: float
    short_factor: float


PROFILES = (
    _Profile("key_account", 0.08, "key_account", False, 25.0, True, 16.0, (2, 3), False, (0.08, 0.14), 0.05, (3, 7), 0.8, 0.8),
    _Profile("strategic", 0.03, "key_account", True, 40.0, True, 20.0, (3, 3), False, (0.12, 0.18), 0.12, (2, 5), 0.35, 0.4),
    _Profile("wholesale", 0.30, "wholesale", False, 6.0, True, 6.0, (1, 2), False, (0.03, 0.08), 0.05, (4, 10), 1.0, 1.0),
    _Profile("small_buyer", 0.53, "retail", False, 0.8, False, 3.0, (1, 1), False, (0.0, 0.03), 0.08, (5, 10), 1.2, 1.1),
    _Profile("e_commerce", 0.06, "e-commerce", False, 11.0, False, 1.4, (7, 7), True, (0.0, 0.05), 0.35, (1, 3), 1.5, 1.3),
)

COST_RATES = (
    ("order handling", "per_order", 4.50),
    ("invoicing", "per_order", 1.20),
    ("picking", "per_line", 0.85),
    ("handling", "per_unit", 0.04),
    ("packing", "per_shipment", 2.50),
    ("transport", "per_shipment", 12.00),
    ("transport", "per_kg", 0.18),
)
CURRENCY = "EUR"


@dataclass(frozen=True)
class SampleData:
    """The data-model tables of the sample distributor, columns named as in core/model.py."""

    orders: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    cost_rates: pd.DataFrame
    #: weekly stock snapshots per product (core.sample_inventory)
    inventory: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"orders": self.orders, "customers": self.customers, "products": self.products,
                "cost_rates": self.cost_rates, "inventory": self.inventory}


def _allocate(n: int, shares: tuple[float, ...] | list[float]) -> np.ndarray:
    """Split n items over groups by share, exactly, giving every group at least one when n allows."""
    import numpy as np

    weights = np.asarray(shares, dtype=float) / sum(shares)
    counts = np.floor(weights * n).astype(int)
    remainder = weights * n - counts
    for i in np.argsort(-remainder, kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if n >= len(counts):  # small samples still carry every kind
        while (counts == 0).any():
            counts[np.argmax(counts)] -= 1
            counts[np.argmin(counts)] += 1
    return counts


def _labels(rng: np.random.Generator, n: int, shares: tuple[float, ...] | list[float]) -> np.ndarray:
    """n group indices in exact proportions, shuffled."""
    import numpy as np

    return rng.permutation(np.repeat(np.arange(len(shares)), _allocate(n, shares)))


def _padded_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


# -- customers ----------------------------------------------------------------------------------

_NAME_PARTS = (
    ("Northwind", "Bluewater", "Oakridge", "Silverline", "Redstone", "Greenfield", "Ironbridge", "Lakeside",
     "Summit", "Harbour", "Westgate", "Eastbrook", "Kingsway", "Meadow", "Highland", "Riverside", "Falcon",
     "Beacon", "Granite", "Maple"),
    ("Building", "Facility", "Installations", "Maintenance", "Construction", "Engineering", "Supplies",
     "Services", "Technics", "Trading", "Workshop", "Projects", "Hardware", "Systems", "Industries",
     "Contractors", "Logistics", "Solutions", "Property", "Repairs"),
    ("Ltd", "GmbH", "BV", "SA", "& Co"),
)


def _customers(rng: np.random.Generator, n_customers: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    import numpy as np
    import pandas as pd

    profile = _labels(rng, n_customers, [p.share for p in PROFILES])
    ids = _padded_ids("C", 10001 + np.arange(n_customers), 5)
    n_combos = np.prod([len(part) for part in _NAME_PARTS])
    picks = rng.choice(n_combos, size=n_customers, replace=n_customers > n_combos)
    first, rest = np.divmod(picks, len(_NAME_PARTS[1]) * len(_NAME_PARTS[2]))
    second, third = np.divmod(rest, len(_NAME_PARTS[2]))
    names = [f"{_NAME_PARTS[0][a]} {_NAME_PARTS[1][b]} {_NAME_PARTS[2][c]}" for a, b, c in zip(first, second, third)]
    region = rng.choice(len(REGIONS), size=n_customers, p=[0.22, 0.18, 0.26, 0.20, 0.14])

    weight = np.empty(n_customers)
    discount = np.empty(n_customers)
    order_days = np.zeros((n_customers, 7), dtype=int)  # allowed weekdays, padded
    n_order_days = np.empty(n_customers, dtype=int)
    for i in range(n_customers):  # per customer, not per line
        p = PROFILES[profile[i]]
        weight[i] = p.lines_weight_median * rng.lognormal(0.0, 0.8)
        discount[i] = rng.uniform(*p.discount_range)
        k = int(rng.integers(p.order_days[0], p.order_days[1] + 1))
        days = np.arange(7) if p.weekend else np.sort(rng.choice(5, size=k, replace=False))
        n_order_days[i] = len(days)
        order_days[i, : len(days)] = days
    # category affinity: each customer buys mostly from a few categories
    affinity = rng.gamma(0.6, 1.0, size=(n_customers, len(CATEGORIES))) + 0.02

    frame = pd.DataFrame({
        "customer_id": ids,
        "customer_name": names,
        "region": np.asarray(REGIONS, dtype=object)[region],
        "channel": np.asarray([p.channel for p in PROFILES], dtype=object)[profile],
        "strategic_account": np.asarray([p.strategic for p in PROFILES])[profile],
    })
    attrs = {
        "profile": profile, "weight": weight, "discount": discount, "order_days": order_days,
        "n_order_days": n_order_days, "affinity": affinity,
        "home_dc": np.asarray([LOCATIONS.index(REGION_DC[REGIONS[r]]) for r in region]),
    }
    return frame, attrs


# -- products and their weekly demand ----------------------------------------------------------

def _products(rng: np.random.Generator, n_products: int, weeks: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    import numpy as np
    import pandas as pd

    names = list(ARCHETYPE_SHARES)
    archetype = _labels(rng, n_products, list(ARCHETYPE_SHARES.values()))
    category = rng.choice(len(CATEGORIES), size=n_products, p=_CATEGORY_SHARES)
    cat = [CATEGORIES[c] for c in category]

    unit_cost = np.round(np.array([c.unit_cost_median for c in cat]) * rng.lognormal(0.0, 0.8, n_products), 2)
    unit_cost = np.maximum(unit_cost, 0.05)
    margin = np.array([rng.uniform(*c.margin_range) for c in cat])
    list_price = unit_cost / (1.0 - margin)
    unit_weight_kg = np.array([c.unit_weight_kg_median for c in cat]) * rng.lognormal(0.0, 0.5, n_products)
    lead_time_days = np.round(np.array([c.lead_time_days_median for c in cat]) * rng.lognormal(0.0, 0.35, n_products))
    lead_time_std_days = np.round(lead_time_days * rng.uniform(0.1, 0.4, n_products), 1)
    # cheap items are bought and ordered in bigger packs
    moq = np.where(unit_cost < 1, rng.choice([50, 100, 200], n_products),
          np.where(unit_cost < 5, rng.choice([10, 12, 24], n_products),
          np.where(unit_cost < 25, rng.choice([4, 5, 6], n_products), rng.choice([1, 2], n_products)))).astype(float)
    noun = [c.nouns[k] for c, k in zip(cat, rng.integers(0, 6, n_products))]
    attribute = rng.choice(_ATTRIBUTES, n_products)
    code = rng.integers(100, 1000, n_products)
    description = [f"{a} {b} {c}" for a, b, c in zip(noun, attribute, code)]

    # lines per week at full rate: a heavy tail for the frequent archetypes, well under one for slow ones
    is_ = {name: archetype == i for i, name in enumerate(names)}
    frequent = ~(is_["intermittent"] | is_["lumpy"])
    lam = np.where(frequent, 1.8 + rng.lognormal(np.log(1.2), 0.9, n_products), rng.uniform(0.06, 0.75, n_products))
    lam = np.where(is_["smooth"], 2.5 + rng.lognormal(np.log(2.5), 0.8, n_products), lam)
    lam = np.where(is_["erratic"], 2.5 + rng.lognormal(np.log(1.5), 0.6, n_products), lam)
    size_sigma = np.select([is_["erratic"], is_["lumpy"]],
                           [rng.uniform(0.9, 1.3, n_products), rng.uniform(1.0, 1.5, n_products)], 0.3)
    # units per line: fewer of expensive items
    size_median = np.maximum(1.0, 25.0 / np.sqrt(unit_cost) * rng.lognormal(0.0, 0.5, n_products))
    noise_shape = np.where(is_["erratic"], 3.0, 50.0)  # week-to-week swing of the rate (gamma shape)

    week = np.arange(weeks)
    factor = np.ones((n_products, weeks))
    peak = np.array([c.season_peak_week for c in cat]) + rng.integers(-4, 5, n_products)
    amplitude = rng.uniform(0.55, 0.95, n_products)
    seasonal = is_["seasonal"]
    factor[seasonal] *= 1.0 + amplitude[seasonal, None] * np.cos(2 * np.pi * (week[None, :] - peak[seasonal, None]) / 52.0)
    promo = np.zeros((n_products, weeks), dtype=bool)
    for p in np.flatnonzero(is_["promoted"]):
        n_promos = max(1, int(rng.integers(3, 8) * weeks / 104))
        promo[p, rng.choice(weeks, size=min(n_promos, weeks), replace=False)] = True
    factor *= np.where(promo, rng.uniform(2.5, 5.0, (n_products, 1)), 1.0)
    intro_week = np.full(n_products, -1)
    intro_week[is_["new"]] = np.floor(rng.uniform(0.25, 0.85, is_["new"].sum()) * weeks).astype(int)
    end_week = np.full(n_products, weeks)
    end_week[is_["phase_out"]] = np.floor(rng.uniform(0.4, 0.9, is_["phase_out"].sum()) * weeks).astype(int)
    ramp_up = np.clip((week[None, :] - intro_week[:, None] + 1) / 8.0, 0.0, 1.0)
    ramp_down = np.clip((end_week[:, None] - week[None, :]) / 12.0, 0.0, 1.0)
    factor *= np.where(is_["new"][:, None], ramp_up, 1.0) * np.where(is_["phase_out"][:, None], ramp_down, 1.0)
    declining = is_["smooth"] & (rng.random(n_products) < 0.15)
    factor[declining] *= np.linspace(1.2, 0.6, weeks)[None, :]
    # the Christmas and New Year weeks are quiet for everyone
    week_start = np.datetime64(START_DATE.isoformat()) + (week * 7).astype("timedelta64[D]")
    month_day = (week_start - week_start.astype("datetime64[M]")).astype(int) + 1
    month = week_start.astype("datetime64[M]").astype(int) % 12 + 1
    holiday = (month == 12) & (month_day >= 19)  # weeks holding 25 December and 1 January
    factor[:, holiday] *= 0.6

    lifecycle = np.full(n_products, "maturity", dtype=object)
    lifecycle[declining] = "decline"
    lifecycle[is_["phase_out"]] = "phase-out"
    lifecycle[is_["new"]] = np.where(intro_week[is_["new"]] >= weeks - 26, "introduction", "growth")

    order = rng.permutation(n_products)  # ids carry no hint of the archetype
    ids = np.empty(n_products, dtype=object)
    ids[order] = _padded_ids("SKU-", 10001 + np.arange(n_products), 5)
    frame = pd.DataFrame({
        "product_id": ids,
        "description": description,
        "category": np.asarray([c.name for c in cat], dtype=object),
        "unit_cost": unit_cost,
        "lead_time_days": lead_time_days,
        "lead_time_std_days": lead_time_std_days,
        "moq": moq,
        "lifecycle_stage": lifecycle,
    })
    attrs = {
        "archetype": archetype, "category": category, "list_price": list_price, "unit_cost": unit_cost,
        "unit_weight_kg": unit_weight_kg, "lam": lam, "factor": factor, "promo": promo,
        "size_median": size_median, "size_sigma": size_sigma, "noise_shape": noise_shape,
        "centralised": ~frequent & (rng.random(n_products) < 0.5),
    }
    return frame, attrs


def _archetype_index(name: str) -> int:
    return list(ARCHETYPE_SHARES).index(name)


def _demand_lines(rng: np.random.Generator, prod: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Order lines as (product, week, quantity, size score z), from each product's weekly rate."""
    import numpy as np

    n_products, weeks = prod["factor"].shape
    shape = prod["noise_shape"][:, None]
    noise = rng.gamma(np.broadcast_to(shape, (n_products, weeks)), 1.0 / shape)
    slow = np.isin(prod["archetype"], [_archetype_index("intermittent"), _archetype_index("lumpy")])
    noise[slow] = 1.0  # slow movers: pure Poisson arrivals
    n_lines = rng.poisson(prod["lam"][:, None] * prod["factor"] * noise)
    cell = np.repeat(np.arange(n_products * weeks), n_lines.ravel())
    product, week = np.divmod(cell, weeks)
    z = rng.standard_normal(len(cell))
    sigma = prod["size_sigma"][product]
    quantity = np.maximum(1.0, np.round(prod["size_median"][product] * np.exp(sigma * z)))
    # intermittent items come in whole packs, mostly one: steady sizes when they do sell
    pack = np.maximum(1.0, np.round(prod["size_median"][product]))
    intermittent = prod["archetype"][product] == _archetype_index("intermittent")
    quantity = np.where(intermittent, pack * (1.0 + (z > 1.04)), quantity)
    return product, week, quantity, z


def _cost_rates() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(COST_RATES, columns=["activity", "driver", "rate"]).assign(currency=CURRENCY)


# -- public API --------------------------------------------------------------------------------

def generate_sample(seed: int = 0, n_products: int = 1500, n_customers: int = 400, weeks: int = 104) -> SampleData:
    """The sample distributor's tables; the same seed and sizes give identical frames."""
    import numpy as np

    from core.sample_inventory import build_inventory
    from core.sample_orders import build_orders

    if n_products < len(ARCHETYPE_SHARES):
        raise SegplanError(f"n_products={n_products} is too small", hint=f"use at least {len(ARCHETYPE_SHARES)}")
    if n_customers < len(PROFILES):
        raise SegplanError(f"n_customers={n_customers} is too small", hint=f"use at least {len(PROFILES)}")
    if weeks < 8:
        raise SegplanError(f"weeks={weeks} is too short", hint="use at least 8 weeks")
    # one independent stream per step, so that a change in one step leaves the others as they were
    # (children are numbered: adding the fourth, for stock, left the first three's data as it was)
    product_rng, customer_rng, order_rng, stock_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    products, prod = _products(product_rng, n_products, weeks)
    customers, cust = _customers(customer_rng, n_customers)
    orders = build_orders(order_rng, prod, cust, products, customers)
    products = products.sort_values("product_id", ignore_index=True)  # after the lines used row positions
    inventory = build_inventory(stock_rng, orders, products, weeks)
    return SampleData(orders=orders, customers=customers, products=products, cost_rates=_cost_rates(),
                      inventory=inventory)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == bool:
            out[name] = out[name].map({True: "true", False: "false"})
    out.to_csv(path, index=False, lineterminator="\n")


def _write_parquet(frame: pd.DataFrame, path: Path, table: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.model import TABLES

    spec = TABLES[table]
    arrow_type = {"VARCHAR": pa.string(), "DATE": pa.date32(), "DOUBLE": pa.float64()}
    fields = [pa.field(c, arrow_type[spec.column(c).sql_type]) for c in frame.columns]
    arrays = [
        pa.array(frame[c].to_numpy().astype("datetime64[D]"), type=pa.date32()) if f.type == pa.date32()
        else pa.array(frame[c].to_numpy(), type=f.type)
        for c, f in zip(frame.columns, fields)
    ]
    # built from arrays, not pandas, so no library-version metadata varies the bytes
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    pq.write_table(table, path, compression="zstd", compression_level=9, row_group_size=128_000)


def write_sample(out_dir: str | Path, seed: int = 0, **sizes: int) -> list[Path]:
    """Write the SAMPLE_FILES (orders and inventory as Parquet, the rest as CSV) to out_dir; returns the paths."""
    data = generate_sample(seed=seed, **sizes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, file_name in SAMPLE_FILES.items():
        path = out / file_name
        frame = data.tables()[table]
        if path.suffix == ".parquet":
            _write_parquet(frame, path, table)
        else:
            _write_csv(frame, path)
        paths.append(path)
    return paths


def _scaled(progress: Callable[[float, str], None], offset: float, share: float) -> Callable[[float, str], None]:
    """One file's progress as its part of the whole load (files weigh by their bytes)."""
    return lambda fraction, message: progress(offset + fraction * share, message)


def load_sample(store: Store, sample_dir: str | Path = DEFAULT_SAMPLE_DIR,
                progress: Callable[[float, str], None] | None = None, *, user: str | None = None) -> list[IngestResult]:
    """Load the sample files (SAMPLE_FILES) into the store, replacing what each table held.

    Each file is one audited ingest by ``user`` (default: the OS user)."""
    from core.ingest import ingest_file

    folder = Path(sample_dir)
    missing = [name for name in SAMPLE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise SegplanError(
            f"sample folder {folder} lacks {', '.join(missing)}",
            hint="generate it with `segplan sample --out " + str(folder) + "`",
        )
    paths = {table: folder / name for table, name in SAMPLE_FILES.items()}
    total_bytes = sum(p.stat().st_size for p in paths.values()) or 1
    done_bytes = 0
    results = []
    for table, path in paths.items():
        size = path.stat().st_size
        step = None if progress is None else _scaled(progress, done_bytes / total_bytes, size / total_bytes)
        results.append(ingest_file(store, table, path, mode="replace", allow_returns=True, progress=step, user=user))
        done_bytes += size
    if progress is not None:
        progress(1.0, "sample loaded")
    return results


def build_tiny_database(store: Store, seed: int = 0) -> list[IngestResult]:
    """Generate a tiny sample (TINY_SIZES) in a temporary folder and load it: a fast database for page tests."""
    with tempfile.TemporaryDirectory(prefix="segplan-sample-") as folder:
        write_sample(folder, seed=seed, **TINY_SIZES)
        return load_sample(store, folder)
