"""The audio briefing: takes a sent digest, its insights' quotes and times and the episodes'
audio, gives one MP3 of the speakers' own clips between narrated lead-ins (with chapters and a
transcript) in the subscriber's private podcast feed."""
