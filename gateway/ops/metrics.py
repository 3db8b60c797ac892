"""Prometheus metrics (prometheus-client). With several worker processes, prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by ``kapu serve --workers N``) adds up what
each process counted."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter("kapu_http_requests_total", "HTTP requests by route and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("kapu_http_request_duration_seconds", "HTTP request latency",
                         ["method", "route"], buckets=BUCKETS)
HKP_REQUESTS = Counter("kapu_hkp_requests_total", "HKP requests by Szolgaltatas and outcome",
                       ["operation", "outcome"])
HKP_LATENCY = Histogram("kapu_hkp_request_duration_seconds", "HKP latency by Szolgaltatas",
                        ["operation"], buckets=BUCKETS)
ACCEPTED = Counter("kapu_documents_accepted_total", "Documents accepted")
REFUSED = Counter("kapu_documents_refused_total", "Uploads refused, by code", ["code"])
REGISTRATION_BATCH = Histogram(
    "kapu_registration_batch_size",
    "Uploads registered together in one transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64))
# One observation per accepted upload: its share of the time its transaction held the
# per-KRID-day counter rows (every host numbering for that KRID queues on them), so the sum
# is the time the rows were held and sum / count the serial time per upload.
COUNTER_HELD = Histogram(
    "kapu_registration_counter_held_seconds",
    "Per accepted upload, its share of the time its transaction held the registration "
    "counter rows (from the counter statement to the commit's end)",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
# Each counter row's own hold, added up: a batch to many offices holds each of their rows, but
# another host waits only for the rows its own uploads need.
COUNTER_ROW_SECONDS = Counter(
    "kapu_registration_counter_row_seconds",
    "Seconds registration counter rows were held, added up over the rows (a transaction "
    "holding three rows for 2 ms adds 6 ms)")
RECEIPTS_SIGNED_EARLY = Counter(
    "kapu_receipts_signed_early_total",
    "Acceptance receipts signed while their upload waited for its number: used, or signed "
    "again because the number forecast was wrong (another process numbered the same KRID)",
    ["outcome"])
REGISTERED_AS_FORECAST = Counter(
    "kapu_registration_batches_total",
    "Registration batches: their documents inserted in the counters' own statement as "
    "forecast (held), or after it because the numbers taken were not those forecast "
    "(missed) or not every receipt was signed early (none)",
    ["forecast"])
REGISTERED_BEFORE_RECEIPTS = Counter(
    "kapu_registration_before_receipts_total",
    "Registration batches not registered as forecast that were registered in one statement "
    "before their acceptance receipts, which were written just after its commit")
BACKLOG = Gauge("kapu_mailbox_backlog", "Documents waiting in mailboxes",
                multiprocess_mode="max")
DEADLINE_LAG = Gauge("kapu_deadline_lag_seconds",
                     "How long the oldest passed deadline has waited for its sweep",
                     multiprocess_mode="max")
AUDIT_UNLINKED = Gauge("kapu_audit_unlinked_entries",
                       "Audit entries written but not yet linked into the chain",
                       multiprocess_mode="max")
RECEIPTS_OWED = Gauge("kapu_acceptance_receipts_owed",
                      "Registered documents whose acceptance receipts are not written yet: "
                      "for moments after their batch's commit, or since their upload stopped "
                      "(a starting server, and the background jobs after a minute, sign them)",
                      multiprocess_mode="max")
AUDIT_LINK_LAG = Gauge("kapu_audit_link_lag_seconds",
                       "How long the oldest audit entry not yet linked has waited",
                       multiprocess_mode="max")
POOL_IN_USE = Gauge("kapu_db_pool_connections_in_use", "Database connections checked out",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("kapu_db_pool_size", "Database pool size", multiprocess_mode="max")
OUTBOX_BACKLOG = Gauge("kapu_outbox_backlog",
                       "Messages waiting to be delivered, by channel (webhook, email)",
                       ["channel"], multiprocess_mode="max")
OUTBOX_DEAD = Gauge("kapu_outbox_dead_letters",
                    "Messages given up on after their last attempt, by channel",
                    ["channel"], multiprocess_mode="max")
READY = Gauge("kapu_ready", "1 when the database and the blob store answered the last probe",
              multiprocess_mode="min")
AVAILABILITY = Gauge("kapu_availability_month_percent",
                     "Availability this month (Budapest), announced maintenance left out",
                     multiprocess_mode="min")
CERTIFICATE_NOT_AFTER = Gauge(
    "kapu_certificate_not_after_timestamp_seconds",
    "When each of the gateway's certificates expires (Unix time): ca, signing, timestamping",
    ["certificate"], multiprocess_mode="min")
for _channel in ("webhook", "email"):
    # Shown at 0 from the start: a dashboard or alert finds the series before the first sweep.
    OUTBOX_BACKLOG.labels(channel=_channel)
    OUTBOX_DEAD.labels(channel=_channel)
# Admission control (ops/admission.py), per class: deadlines, standard, sheddable.
ADMISSION_IN_FLIGHT = Gauge("kapu_admission_in_flight", "Requests being served, by class",
                            ["priority"], multiprocess_mode="livesum")
ADMISSION_QUEUED = Gauge("kapu_admission_queued", "Requests waiting for a slot, by class",
                         ["priority"], multiprocess_mode="livesum")
ADMISSION_SHED = Counter("kapu_admission_shed_total",
                         "Requests refused with 503 overloaded, by class", ["priority"])
ADMISSION_LIMIT = Gauge("kapu_admission_limit", "Concurrent requests allowed per process",
                        ["priority"], multiprocess_mode="max")
ADMISSION_QUEUE_LIMIT = Gauge("kapu_admission_queue_limit",
                              "Requests allowed to wait per process", ["priority"],
                              multiprocess_mode="max")
# Moves between 1 and kapu_admission_limit{priority="sheddable"} with the uploads' latency.
ADMISSION_SHEDDABLE_NOW = Gauge("kapu_admission_sheddable_limit_now",
                                "Sheddable requests allowed at once per process now, lowered "
                                "while uploads and acknowledgements are slow",
                                multiprocess_mode="liveall")


class PrometheusTelemetry:
    """The services' Telemetry port."""

    def accepted(self) -> None:
        ACCEPTED.inc()

    def refused(self, code: str) -> None:
        REFUSED.labels(code=code).inc()

    def registered_batch(self, size: int) -> None:
        REGISTRATION_BATCH.observe(size)

    def signed_early(self, used: int, signed_again: int) -> None:
        if used:
            RECEIPTS_SIGNED_EARLY.labels("used").inc(used)
        if signed_again:
            RECEIPTS_SIGNED_EARLY.labels("signed_again").inc(signed_again)

    def registered_as_forecast(self, outcome: str) -> None:
        REGISTERED_AS_FORECAST.labels(outcome).inc()

    def registered_before_receipts(self) -> None:
        REGISTERED_BEFORE_RECEIPTS.inc()

    def counter_held(self, seconds: float, uploads: int, rows: int = 1) -> None:
        COUNTER_ROW_SECONDS.inc(seconds * rows)
        for _ in range(uploads):
            COUNTER_HELD.observe(seconds / uploads)


def certificates_expire(not_after: dict[str, float]) -> None:
    """Record each certificate's expiry (Unix time) by its role."""
    for role, at in not_after.items():
        CERTIFICATE_NOT_AFTER.labels(certificate=role).set(at)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
