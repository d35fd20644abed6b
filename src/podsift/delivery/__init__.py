"""Delivery: takes due subscribers' digests from `digests/`, gives them to each channel
(email through the mail transport, chat through Apprise): claimed, sent once, retried, never lost."""
