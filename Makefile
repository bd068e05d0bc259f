.PHONY: run test lint format bench day
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
# Benchmarks on PostgreSQL (127.0.0.1:5432, database reseller_bench): ARGS=--lines=1000000 for 1 M.
bench:
	scripts/bootstrap requirements.txt && .venv/bin/python -m pip install -q -r bench/requirements.txt
	.venv/bin/python -m bench.run $(ARGS)
# The production layout on this machine (gunicorn, Celery workers and beat, Stripe peer) through a
# scripted day of traffic, then the consistency check; database reseller_day. See README.
day:
	scripts/day
