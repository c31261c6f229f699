import importlib
import unittest
from pathlib import Path

from pydantic import ValidationError

from orders import load_orders, render_report, totals_by_customer

DATA = (Path(__file__).resolve().parent.parent / "data" / "orders.yaml").read_text()


class OrdersTest(unittest.TestCase):
    def test_totals_are_sorted_by_amount(self):
        table = totals_by_customer(load_orders(DATA))
        self.assertEqual(list(table["customer"]), ["globex", "initech", "acme"])
        self.assertAlmostEqual(table["amount"].sum(), 59.7 + 45.0 + 250.0 + 199.98)

    def test_report(self):
        report = render_report(load_orders(DATA))
        self.assertTrue(report.startswith("Orders: 4, total 554.68\n"))
        self.assertIn("acme         2     104.70", report)

    def test_bad_order_is_rejected(self):
        with self.assertRaises(ValidationError):
            load_orders("- {id: 0, customer: '', day: '2026-13-01', quantity: 1, unit_price: '-1'}")


class EnvironmentTest(unittest.TestCase):
    """Every pinned top-level package imports: the cached environment is complete."""

    def test_imports(self):
        for name in ("attr", "boto3", "celery", "cryptography", "django", "rest_framework", "httpx",
                     "jinja2", "numpy", "pandas", "pydantic", "yaml", "requests", "rich", "sqlalchemy"):
            with self.subTest(name=name):
                importlib.import_module(name)
