"""Outgoing HTTP: one guarded client for every fetch (private addresses refused unless
allowed), and safe links into episodes (`links`)."""

from podsift.net.client import FetchError, FetchResult, HttpClient
from podsift.net.guard import AddressPolicy, BlockedAddressError

__all__ = ["AddressPolicy", "BlockedAddressError", "FetchError", "FetchResult", "HttpClient"]
