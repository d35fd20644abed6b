"""Search everything the followed shows said: moments (transcript passages and insights) by
their words and their meaning, answered with the speaker, the show, the episode and the second."""

from podsift.search.alerts import AlertError, add_alert, list_alerts, remove_alert
from podsift.search.moments import Moment, SearchFilters, search_moments
from podsift.search.query import QueryError, SearchQuery, parse_query

__all__ = [
    "AlertError",
    "Moment",
    "QueryError",
    "SearchFilters",
    "SearchQuery",
    "add_alert",
    "list_alerts",
    "parse_query",
    "remove_alert",
    "search_moments",
]
