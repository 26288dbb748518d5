"""The data model: what each table holds, which columns are required, and their ERP synonyms.

This module is the single source of truth for table and column names; `store` builds the
schema from it, `ingest` maps and validates against it, `docs/data-model.md` describes it.
Identifiers that reach SQL come only from here (see `store.quote_ident`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a data-model table.

    ``sql_type`` is the DuckDB type the value is stored as; ``kind`` is how ingest parses it
    (``text``, ``date``, ``number``, ``bool``).
    """

    name: str
    sql_type: str
    required: bool
    description: str
    synonyms: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return {"VARCHAR": "text", "DATE": "date", "DOUBLE": "number", "BOOLEAN": "bool"}[self.sql_type]


@dataclass(frozen=True)
class TableSpec:
    """One data-model table: its columns and what makes a row a duplicate of another."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    #: columns whose values identify a row; a second row with the same key is a duplicate.
    #: For `orders`, the key is (order_id, line_number) when line_number is mapped, else the
    #: whole row (see `duplicate_key_columns`).
    key: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def duplicate_key_columns(self, mapped: set[str] | frozenset[str]) -> tuple[str, ...]:
        """Columns that decide whether two rows are the same line, given the mapped columns."""
        if self.name == "orders":
            if "line_number" in mapped:
                return ("order_id", "line_number")
            return tuple(c for c in self.column_names if c in mapped)
        return self.key


def _c(name: str, sql_type: str, required: bool, description: str, *synonyms: str) -> ColumnSpec:
    return ColumnSpec(name, sql_type, required, description, tuple(synonyms))


ORDERS = TableSpec(
    "orders",
    "One row per order line: what a customer ordered, when, and how it was delivered.",
    (
        _c("order_id", "VARCHAR", True, "Order or invoice number.",
           "InvoiceNo", "Invoice", "OrderNo", "OrderNumber", "SalesOrder", "SO", "PO/SO #", "Document", "VBELN", "DocNo"),
        _c("order_date", "DATE", True, "Date the order was placed.",
           "InvoiceDate", "Date", "OrderDt", "CreatedOn", "DocDate", "PostingDate", "ERDAT", "TransactionDate"),
        _c("customer_id", "VARCHAR", True, "Ordering customer (sold-to party).",
           "CustomerID", "Customer", "CustNo", "CustomerNo", "SoldTo", "SoldToParty", "KUNNR", "Client", "AccountID"),
        _c("product_id", "VARCHAR", True, "Item ordered (SKU).",
           "StockCode", "SKU", "Material", "MaterialNumber", "Item", "ItemNo", "ItemCode", "ProductCode", "PartNumber", "MATNR", "Article"),
        _c("quantity", "DOUBLE", True, "Ordered quantity in the product's unit; negative for returns.",
           "Qty", "OrderQty", "OrderedQuantity", "Units", "Quantity Ordered", "KWMENG", "Line Item Quantity"),
        _c("unit_price", "DOUBLE", False, "Net selling price per unit.",
           "UnitPrice", "Price", "SalesPrice", "NetPrice", "SellingPrice"),
        _c("unit_cost", "DOUBLE", False, "Cost per unit (standard or actual).",
           "UnitCost", "Cost", "StandardCost", "COGSPerUnit"),
        _c("net_amount", "DOUBLE", False, "Net line value (revenue); used instead of quantity * unit_price when given.",
           "Sales", "Revenue", "NetValue", "LineValue", "LineTotal", "Amount", "NetSales", "NETWR", "Line Item Value"),
        _c("cost_amount", "DOUBLE", False, "Line cost; used instead of quantity * unit_cost when given.",
           "COGS", "CostAmount", "LineCost", "CostOfSales", "TotalCost"),
        _c("requested_date", "DATE", False, "Delivery date the customer asked for.",
           "RequestedDate", "RequestDate", "CustomerRequestDate", "WantedDate"),
        _c("promised_date", "DATE", False, "Delivery date confirmed to the customer.",
           "PromisedDate", "PromiseDate", "ConfirmedDate", "CommitDate", "ScheduledDeliveryDate", "Scheduled Delivery Date"),
        _c("ship_date", "DATE", False, "Date the line shipped.", "ShipDate", "ShippedDate", "GoodsIssueDate", "DispatchDate"),
        _c("delivered_date", "DATE", False, "Date the line reached the customer.",
           "DeliveredDate", "DeliveryDate", "ReceivedDate", "Delivered to Client Date", "ActualDeliveryDate"),
        _c("delivered_quantity", "DOUBLE", False, "Quantity delivered (for fill rate).",
           "DeliveredQty", "ShippedQty", "ShippedQuantity", "DeliveredQuantity", "QtyShipped"),
        _c("location_id", "VARCHAR", False, "Shipping warehouse or plant.", "Location", "Warehouse", "Plant", "Site", "WERKS", "DC"),
        _c("channel", "VARCHAR", False, "Sales channel of the line.", "SalesChannel", "Channel", "DistributionChannel"),
        _c("line_number", "VARCHAR", False, "Line number within the order; with order_id, identifies the line.",
           "LineNo", "Line", "OrderLine", "LineItem", "Row ID", "POSNR", "ItemNumber"),
        _c("shipment_id", "VARCHAR", False, "Shipment or delivery note the line left on (cost-to-serve driver).",
           "Shipment", "DeliveryNote", "ASN", "ASN/DN #", "ShipmentNo"),
        _c("weight_kg", "DOUBLE", False, "Shipped weight in kilograms (cost-to-serve driver).",
           "Weight", "WeightKg", "Weight (Kilograms)", "GrossWeight"),
        _c("ship_mode", "VARCHAR", False, "Shipping mode or service (express, standard, ...).",
           "ShipMode", "Shipment Mode", "ShippingMethod", "Carrier"),
    ),
)

CUSTOMERS = TableSpec(
    "customers",
    "One row per customer.",
    (
        _c("customer_id", "VARCHAR", True, "Customer number.", "CustomerID", "Customer", "CustNo", "SoldTo", "KUNNR", "AccountID"),
        _c("customer_name", "VARCHAR", False, "Customer name.", "Name", "CustomerName", "Company", "AccountName"),
        _c("region", "VARCHAR", False, "Sales region or country.", "Region", "Country", "Territory", "State"),
        _c("channel", "VARCHAR", False, "Customer channel (retail, wholesale, e-commerce ...).", "Segment", "CustomerType", "Channel"),
        _c("strategic_account", "BOOLEAN", False, "Key account flag.", "Strategic", "KeyAccount", "IsStrategic"),
    ),
    key=("customer_id",),
)

PRODUCTS = TableSpec(
    "products",
    "One row per product (SKU).",
    (
        _c("product_id", "VARCHAR", True, "Product number (SKU).", "StockCode", "SKU", "Material", "Item", "ItemNo", "ProductCode", "MATNR"),
        _c("description", "VARCHAR", False, "Product description.", "Description", "ProductName", "Name", "ItemDescription", "MaterialDescription"),
        _c("category", "VARCHAR", False, "Product category or group.", "Category", "ProductGroup", "MaterialGroup", "Family", "Sub-Category"),
        _c("unit_cost", "DOUBLE", False, "Standard cost per unit.", "UnitCost", "StandardCost", "Cost"),
        _c("lead_time_days", "DOUBLE", False, "Replenishment lead time in days.", "LeadTime", "LeadTimeDays", "PlannedDeliveryTime", "PLIFZ"),
        _c("lead_time_std_days", "DOUBLE", False, "Standard deviation of the lead time in days.", "LeadTimeStd", "LeadTimeStdDev"),
        _c("moq", "DOUBLE", False, "Minimum order quantity.", "MinOrderQty", "MinimumOrderQuantity", "MOQ"),
        _c("lifecycle_stage", "VARCHAR", False, "Introduction, growth, maturity, decline, phase-out.", "Lifecycle", "Stage", "Status"),
    ),
    key=("product_id",),
)

#: Cost drivers that cost-to-serve counts in the demand lines (quantity > 0) of the order data
#: (the sample's rates cover each). `core.cost_to_serve.DRIVERS` adds ``per_return_line``
#: (return lines, quantity < 0); ``per_line:ship_mode=<mode>`` charges per demand line shipped
#: with that ship_mode (special handling, express). Ingest accepts all three kinds.
COST_DRIVERS = ("per_order", "per_line", "per_unit", "per_shipment", "per_kg")

COST_RATES = TableSpec(
    "cost_rates",
    "One row per activity cost rate for activity-based cost-to-serve.",
    (
        _c("activity", "VARCHAR", True, "Activity name (picking, order handling, transport ...).", "Activity", "CostActivity", "Process"),
        _c("driver", "VARCHAR", True, "What the rate is charged per: " + ", ".join(COST_DRIVERS)
           + ", per_return_line, or per_line:ship_mode=<mode> (demand lines shipped with that ship_mode, "
           "e.g. per_line:ship_mode=Express).", "Driver", "CostDriver", "Basis"),
        _c("rate", "DOUBLE", True, "Cost per driver unit.", "Rate", "CostRate", "CostPerUnit", "Cost"),
        _c("currency", "VARCHAR", False, "Currency of the rate.", "Currency", "Curr", "WAERS"),
    ),
    key=("activity", "driver"),
)

INVENTORY = TableSpec(
    "inventory",
    "One row per inventory snapshot of a product (and location): what was on hand that day.",
    (
        _c("snapshot_date", "DATE", True, "Date the stock was counted or reported.",
           "SnapshotDate", "StockDate", "InventoryDate", "AsOfDate", "Date", "PostingDate"),
        _c("product_id", "VARCHAR", True, "Product counted (SKU).",
           "StockCode", "SKU", "Material", "Item", "ItemNo", "ProductCode", "MATNR"),
        _c("on_hand_quantity", "DOUBLE", True, "Units on hand in the product's unit.",
           "OnHand", "OnHandQty", "QtyOnHand", "StockQuantity", "Stock", "Quantity", "UnrestrictedStock", "LABST"),
        _c("unit_cost", "DOUBLE", False, "Cost per unit the stock is valued at; else products.unit_cost.",
           "UnitCost", "StandardCost", "Cost", "ValuationPrice"),
        _c("location_id", "VARCHAR", False, "Warehouse or plant holding the stock.",
           "Location", "Warehouse", "Plant", "Site", "WERKS", "DC"),
    ),
    key=("snapshot_date", "product_id", "location_id"),
)

#: The tables of schema migration 1: the order history and its master data. Segmentation
#: versions fingerprint these (inventory does not feed a segmentation).
BASE_TABLES: tuple[TableSpec, ...] = (ORDERS, CUSTOMERS, PRODUCTS, COST_RATES)
#: Every data-model table, in load order; `inventory` comes with schema migration 7.
TABLES: dict[str, TableSpec] = {t.name: t for t in (*BASE_TABLES, INVENTORY)}


def normalize_header(header: str) -> str:
    """Fold a header to lowercase letters and digits, so 'Invoice No', 'invoice_no' and 'InvoiceNo' meet."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def table_spec(name: str) -> TableSpec:
    """The spec of a data-model table, or a `SegplanError` naming the tables there are."""
    from core.errors import SegplanError

    try:
        return TABLES[name]
    except KeyError:
        raise SegplanError(
            f"unknown table {name!r}", hint="choose one of: " + ", ".join(TABLES)
        ) from None
