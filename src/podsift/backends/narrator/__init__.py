"""Narrators: text to speech for the audio briefing, chosen by `PODSIFT_NARRATOR`."""
