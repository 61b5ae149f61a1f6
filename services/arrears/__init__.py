"""Arrears: what is overdue, late-payment interest day by day, suspected evasion (docs/arrears.md)."""
