"""The arrears rules, pure: due dates, the interest rule segments, day-by-day interest (no I/O)."""
