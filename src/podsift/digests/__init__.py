"""Digests: takes ranking's picks for each subscriber, gives the day's digest, chosen once
and recorded (`records`), and one view of it for every reader and format (`view`, `read`)."""
