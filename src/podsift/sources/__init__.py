"""Sources: takes the shows to follow (feed URLs, OPML, directory searches), gives episodes.

Feeds are polled politely (conditional GETs, backoff, 410 means gone) through the guarded
HTTP client; each new episode is stored once, keyed by its feed and GUID."""
