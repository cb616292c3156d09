"""``flask demo load``: a believable reference program to click through (DESIGN.md §9).

Not a workflow of the program but a user of them: ``demo`` imports ``workflows`` and
``models``, and nothing of ours imports ``demo`` except the command line (``admin/cli.py``).
The tables are in ``demo/data.py``, the loader in ``demo/loader.py``.
"""

from __future__ import annotations

from demo.loader import DEMO_SETTING, DemoAccount, DemoError, DemoSummary, load_demo

__all__ = ["DEMO_SETTING", "DemoAccount", "DemoError", "DemoSummary", "load_demo"]
