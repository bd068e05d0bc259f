.PHONY: run test lint format
# Run the product on the embedded default (SQLite, in-process tasks, demo data).
run:
	scripts/run
# Run the whole suite (PostgreSQL and Redis when reachable); ARGS are passed to pytest.
test:
	scripts/test $(ARGS)
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
