"""The names of the attributes our own code puts on spans, metrics and logs: each written once.

Stable semantic-convention names (``enduser.id``) and ours (``suppliers.*``). The HTTP server span's
attributes live with the middleware that sets them (http.py); the pool's with the pool metrics.
"""

from __future__ import annotations

ENDUSER_ID = "enduser.id"

PRODUCT_ID = "suppliers.product.id"
PRODUCT_STOCK = "suppliers.product.stock"
VENDOR_ID = "suppliers.vendor.id"
TRANSACTION_ID = "suppliers.transaction.id"

ACTION = "suppliers.inventory.action"
QUANTITY = "suppliers.inventory.quantity"
OUTCOME = "suppliers.inventory.outcome"

TRIGGER = "suppliers.resupply.trigger"
RESUPPLY_THRESHOLD = "suppliers.resupply.threshold"
RESUPPLY_PRODUCTS = "suppliers.resupply.products"
RESUPPLY_SKIPPED = "suppliers.resupply.skipped"

LOGIN_OUTCOME = "suppliers.login.outcome"
CACHE_RESULT = "suppliers.session_cache.result"

RULE = "suppliers.rule"
PLAYGROUND_SLEEP = "suppliers.playground.sleep_seconds"
