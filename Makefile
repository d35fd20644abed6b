.PHONY: run test lint bench
run:
	./scripts/podsift-daily
test:
	./scripts/test
lint:
	.venv/bin/ruff check src tests bench && .venv/bin/ruff format --check src tests bench
bench:
	.venv/bin/python bench/feed_scan.py --feeds 1000
