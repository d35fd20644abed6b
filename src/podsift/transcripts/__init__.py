"""Transcripts: takes new episodes, gives timed segments with speakers.

The publisher's `<podcast:transcript>` first (`stage`), else speech to text on the audio
(`speech`, through the ASR backend). Episodes move new -> transcribed | needs_asr."""
