"""A small database for page and browser tests, written with plain INSERTs.

Six products over 26 weeks with demand worked to land in different classes: P1 large and
steady, P6 rare and lumpy, one customer with a single order line.
"""

from __future__ import annotations

import datetime as dt

from core.store import Store

#: product -> (weekly quantity pattern, unit price)
_DEMAND = {
    "P1": ([100] * 26, 10.0),                          # steady and large: A, X, smooth
    "P2": ([40, 60] * 13, 8.0),                        # regular: X/Y
    "P3": ([0, 30, 0, 5, 80, 0] * 4 + [0, 20], 6.0),   # erratic
    "P4": ([0, 0, 10, 0, 0, 12] * 4 + [0, 0], 5.0),    # intermittent
    "P5": ([0, 0, 0, 90, 0, 0] * 4 + [0, 3], 2.0),     # lumpy
    "P6": ([0] * 20 + [5, 0, 0, 0, 1, 0], 1.0),        # rare
}
CUSTOMERS = ("C1", "C2", "C3", "C4")
START = dt.date(2025, 1, 6)  # a Monday


def fill_small_database(store: Store) -> int:
    """Insert products, customers and order lines; return the number of order lines."""
    lines = []
    for product, (weeks, price) in _DEMAND.items():
        for week, quantity in enumerate(weeks):
            if quantity == 0:
                continue
            customer = CUSTOMERS[(week + len(product)) % 3]  # C1..C3 share the demand
            lines.append((f"O{len(lines) + 1}", START + dt.timedelta(weeks=week), customer, product, float(quantity), price))
    # C4 orders once: a customer with one item and one line.
    lines.append((f"O{len(lines) + 1}", START, "C4", "P2", 7.0, 8.0))
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price, "
            "unit_cost, run_id, source_row) VALUES (?, ?, ?, ?, ?, ?, ? * 0.6, 0, ?)",
            [(*line, line[5], i + 2) for i, line in enumerate(lines)],
        )
        cur.executemany(
            "INSERT INTO products (product_id, description, category, lead_time_days, run_id, source_row) VALUES (?, ?, ?, ?, 0, ?)",
            [(p, f"Product {p}", "tools" if p < "P4" else "parts", 14.0, i + 2) for i, p in enumerate(_DEMAND)],
        )
        cur.executemany(
            "INSERT INTO customers (customer_id, customer_name, region, run_id, source_row) VALUES (?, ?, ?, 0, ?)",
            [(c, f"Customer {c}", "north" if c < "C3" else "south", i + 2) for i, c in enumerate(CUSTOMERS)],
        )
    return len(lines)


ORDERS_CSV = (
    "InvoiceNo,InvoiceDate,CustomerID,StockCode,Quantity,UnitPrice\n"
    "A1,2025-01-06,C1,P1,10,2.5\n"
    "A2,2025-01-13,C1,P2,4,3\n"
    "A3,2025-01-20,C2,P1,7,2.5\n"
    "A4,not a date,C2,P3,1,9\n"
)
"""Four order lines with ERP headers; the last has a bad date and is rejected."""
