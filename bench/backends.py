"""Outgoing messages during a benchmark are built in full and then dropped: the console backends
would print a hundred thousand e-mails and SMS into the results, and the in-memory ones would
grow with every renewal and spoil the memory figures."""

from notifications.sms import BaseSmsBackend


class DiscardSmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str) -> str:
        return "bench-discarded"
