"""python -m orders FILE.yaml: print the report."""

import sys

from orders import load_orders, render_report

with open(sys.argv[1], encoding="utf-8") as f:
    print(render_report(load_orders(f.read())), end="")
