"""Run the same function on several threads at once, each with its own database connection,
released together by a barrier so that they really race."""

import threading

from django.db import connection


def run_concurrently(function, count: int, timeout: float = 60) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = function(index)
        except Exception as exc:  # the test asserts on what each thread met
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
