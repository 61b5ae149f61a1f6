"""Payments: monthly runs, bank orders (JSON, pain.001), cash orders, status, reconciliation. (Skeleton.)"""
