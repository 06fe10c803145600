"""Inventory: vendors, products, stock movements and resupply."""
