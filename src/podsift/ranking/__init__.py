"""Ranking: takes the stories of the last days and a subscriber's interests, history and
votes, gives their top picks: relevant, novel, diverse, each with the reason it was chosen."""
