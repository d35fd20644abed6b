"""Workers: takes the due work the stages report (feeds to scan, episodes to fetch,
transcribe and extract, stories to file, subscribers to deliver to), gives it to
Procrastinate tasks on named queues that any number of `podsift worker` processes run.

A shell like the CLI and the web app: each task calls one stage function for one unit of
work; the stages' own state (episode states, delivery claims) keeps a repeated or
concurrent task harmless. Postgres only; the embedded default stays `podsift run`.
"""
