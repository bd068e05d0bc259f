"""The partner-API step's two halves that run outside ``bench/run.py``.

``python -m bench.api_load load`` is the load generator: a second process on loopback, so the
server's figures do not include the client's work. It reads its orders as JSON on stdin (the
request lists are too long for a command line), keeps one HTTP/1.1 connection per client open
for as long as the server keeps it (gunicorn's sync workers, production's layout, close it
after each answer: the client then connects again, inside the timed request), runs for
``warmup`` seconds untimed, then for ``seconds`` timed, and prints one JSON line: requests/s,
p50 and p99 in ms, and every status seen (anything but 2xx is an error, as is a broken
connection, reported as status 0). Plain sockets and threads: no tool to install.

``python -m bench.api_load prepare '<json>'`` runs inside Django (bench settings): the bench partner's
key and funded wallet, then each operation once through Django's test client with its SQL
captured (queries per request, exact ``COUNT(*)``), and pyinstrument profiles with
``--profile``. It prints ``RESULT {json}`` last, like ``bench/measure.py``."""

import json
import socket
import sys
import threading
import time
from pathlib import Path

#: Where the real endpoint's captured answer to an operation is kept for the bare view
#: (bench/urls.py) that replays it.
BARE_ANSWERS = Path(__file__).resolve().parent / "out"


def bare_answer_path(operation: str) -> Path:
    return BARE_ANSWERS / f"api-bare-{operation}.json"


# --- the load generator -----------------------------------------------------------------------------


def _read_answer(reader) -> tuple[int, bool]:
    """Read one HTTP/1.1 answer to the end: its status, and whether the connection stays open."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split(None, 2)[1])
    length, keep = None, not status_line.startswith(b"HTTP/1.0")
    while True:
        header = reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _sep, value = header.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if length is None:  # no length: the body runs to the end of the connection
        reader.read()
        return status, False
    reader.read(length)
    return status, keep


def _client(orders: dict, number: int, started: float, outcome: dict) -> None:
    targets, clients = orders["targets"], orders["clients"]
    warm_until = started + orders["warmup"]
    stop_at = warm_until + orders["seconds"]
    head = f"{orders['method']} {{path}} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in orders.get("headers", {}).items())
    prefix = orders.get("idempotency_prefix")
    authorizations = orders.get("authorizations") or []
    latencies, timed, warm = [], {}, {}
    connection = reader = None
    sent = 0
    while True:
        before = time.perf_counter()
        if before >= stop_at:
            break
        turn = number + sent * clients  # the clients take the targets and keys in turn
        path, body = targets[turn % len(targets)]
        request = head.format(path=path)
        if authorizations:
            request += f"Authorization: {authorizations[turn % len(authorizations)]}\r\n"
        if prefix:  # a new operation each time: never a replay of a stored answer
            request += f"Idempotency-Key: {prefix}-{number}-{sent}\r\n"
        payload = body.encode() if body is not None else b""
        if body is not None:
            request += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        sent += 1
        try:
            if connection is None:
                connection = socket.create_connection(("127.0.0.1", orders["port"]), timeout=60)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader = connection.makefile("rb")
            connection.sendall(request.encode() + b"\r\n" + payload)
            status, keep = _read_answer(reader)
        except OSError:
            status, keep = 0, False
        after = time.perf_counter()
        if not keep and connection is not None:
            reader.close()
            connection.close()
            connection = None
        counts = warm if before < warm_until else timed
        counts[status] = counts.get(status, 0) + 1
        if before >= warm_until and after <= stop_at:
            latencies.append(after - before)
    if connection is not None:
        connection.close()
    outcome[number] = {"latencies": latencies, "timed": timed, "warm": warm, "sent": sent}


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] * 1000 if ordered else 0.0


def load(orders: dict) -> dict:
    outcome: dict[int, dict] = {}
    started = time.perf_counter()
    threads = [
        threading.Thread(target=_client, args=(orders, number, started, outcome))
        for number in range(orders["clients"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = sorted(value for client in outcome.values() for value in client["latencies"])
    statuses: dict[str, dict[str, int]] = {"timed": {}, "warm": {}}
    for client in outcome.values():
        for phase in ("timed", "warm"):
            for status, count in client[phase].items():
                statuses[phase][str(status)] = statuses[phase].get(str(status), 0) + count
    errors = {
        phase: sum(count for status, count in counts.items() if not 200 <= int(status) < 300)
        for phase, counts in statuses.items()
    }
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / orders["seconds"],
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
        "errors": errors["timed"],
        "warmup_errors": errors["warm"],
        "statuses": statuses,
        "sent": sum(client["sent"] for client in outcome.values()),
        "clients": orders["clients"],
        "seconds": orders["seconds"],
    }


# --- inside Django ------------------------------------------------------------------------------------


def prepare(args: dict) -> dict:
    """``keys`` keys of the bench partner (read and write; bench/run.py says why several) and
    its wallet funded with ``top_up`` through the wallet service, then what each operation
    costs inside our process."""
    import django

    django.setup()
    from decimal import Decimal

    from accounts.models import Partner
    from api.keys import api_key_issue
    from payments.wallet import wallet_top_up
    from reseller.actors import Actor

    actor = Actor.system("bench")
    partner = Partner.objects.get(pk=args["partner"])
    keys = [
        api_key_issue(name="bench", actor=actor, partner=partner, scopes={"read", "write"}).raw
        for _ in range(args["keys"])
    ]
    amount = Decimal(args["top_up"])
    wallet_top_up(
        partner=partner, amount=amount, currency=partner.default_currency, actor=actor, reason="bench"
    )
    return {"keys": keys, "per_request": _per_request(keys[0], args)}


def _per_request(raw_key: str, args: dict) -> dict:
    """Each operation once through the whole stack (middleware, authentication, throttling,
    the view), after one untimed call: its SQL statements and their COUNTs; with ``profile``,
    pyinstrument's text profile of ``profile_runs`` calls in bench/out/."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.measure import _count_kind

    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    figures = {}
    for name, operation in args["operations"].items():
        calls = iter(range(1_000_000))

        def call(name=name, operation=operation, calls=calls):
            if operation["method"] == "GET":
                return client.get(operation["path"])
            return client.post(
                operation["path"],
                operation["body"],
                content_type="application/json",
                headers={"Idempotency-Key": f"{args['idempotency_prefix']}-{name}-{next(calls)}"},
            )

        call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        kinds = [_count_kind(query["sql"]) for query in captured.captured_queries]
        figures[name] = {
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "exact_counts": kinds.count("exact"),
            "bounded_counts": kinds.count("bounded"),
            "sql": [query["sql"][:300] for query in captured.captured_queries],
        }
        if args.get("profile_dir"):
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(args.get("profile_runs", 50)):
                    call()
            path = Path(args["profile_dir"]) / f"profile-api-{name}.txt"
            path.write_text(profiler.output_text(unicode=True, show_all=False))
            figures[name]["profile"] = str(path)
    return figures


def main() -> None:
    if sys.argv[1:2] == ["load"]:
        print(json.dumps(load(json.load(sys.stdin))), flush=True)
    elif sys.argv[1:2] == ["prepare"]:  # bench/run.py's Bench.child: arguments on the command line
        print("RESULT " + json.dumps(prepare(json.loads(sys.argv[2])), default=str), flush=True)
    else:
        raise SystemExit("usage: python -m bench.api_load load < orders.json | prepare '<json>'")


if __name__ == "__main__":
    main()
