"""orders-report: validate orders (pydantic), total them (pandas), render a report (Jinja2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import jinja2
import pandas as pd
import yaml
from pydantic import BaseModel, Field, PositiveInt

__all__ = ["Order", "load_orders", "render_report", "totals_by_customer"]

TEMPLATE = jinja2.Template(
    "Orders: {{ count }}, total {{ '%.2f' | format(total) }}\n"
    "{% for row in rows %}{{ '%-10s' | format(row.customer) }} {{ '%3d' | format(row.orders) }}"
    " {{ '%10.2f' | format(row.amount) }}\n{% endfor %}"
)


class Order(BaseModel):
    id: PositiveInt
    customer: str = Field(min_length=1, max_length=40)
    day: date
    quantity: PositiveInt
    unit_price: Decimal = Field(gt=0, max_digits=10, decimal_places=2)


def load_orders(text: str) -> list[Order]:
    """Parse and validate the YAML list of orders (pydantic raises on a bad one)."""
    return [Order.model_validate(item) for item in yaml.safe_load(text) or []]


def totals_by_customer(orders: Iterable[Order]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"customer": o.customer, "amount": float(o.quantity * o.unit_price)} for o in orders],
        columns=["customer", "amount"],
    )
    grouped = frame.groupby("customer", as_index=False).agg(orders=("amount", "size"), amount=("amount", "sum"))
    return grouped.sort_values(["amount", "customer"], ascending=[False, True], ignore_index=True)


def render_report(orders: list[Order]) -> str:
    table = totals_by_customer(orders)
    return TEMPLATE.render(count=len(orders), total=float(table["amount"].sum()), rows=table.itertuples())
