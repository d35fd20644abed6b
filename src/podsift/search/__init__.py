"""Search everything the followed shows said: moments (transcript passages and insights) by
their words and their meaning, answered with the speaker, the show, the episode and the second."""

from podsift.search.moments import Moment, SearchFilters, search_moments
from podsift.search.query import QueryError, SearchQuery, parse_query

__all__ = ["Moment", "QueryError", "SearchFilters", "SearchQuery", "parse_query", "search_moments"]
