"""Subscribers and their identity: addresses, accounts (who gets a digest, about what, when
and where), the signing secret, signed links and the double opt-in. Takes addresses and
preferences from the shells; gives the subscribers that ranking, digests and delivery serve."""

from podsift.subscribers.accounts import (
    EDITABLE,
    SubscriberError,
    add_subscriber,
    channel_key,
    count_subscribers,
    find_subscriber,
    list_subscribers,
    remove_subscriber,
    sign_up,
    state_of,
    time_zones,
    update_subscriber,
    validate_channel,
    validate_timezone,
)
from podsift.subscribers.addresses import AddressError, parse_address
from podsift.subscribers.links import (
    SubscriberLinks,
    confirm,
    confirm_link,
    links_for,
    preferences_path,
    record_vote,
    subscriber_for,
    unsubscribe,
    vote_path,
)
from podsift.subscribers.tokens import TokenError, Tokens

__all__ = [
    "EDITABLE",
    "AddressError",
    "SubscriberError",
    "SubscriberLinks",
    "TokenError",
    "Tokens",
    "add_subscriber",
    "channel_key",
    "confirm",
    "confirm_link",
    "count_subscribers",
    "find_subscriber",
    "links_for",
    "list_subscribers",
    "parse_address",
    "preferences_path",
    "record_vote",
    "remove_subscriber",
    "sign_up",
    "state_of",
    "subscriber_for",
    "time_zones",
    "unsubscribe",
    "update_subscriber",
    "validate_channel",
    "validate_timezone",
    "vote_path",
]
