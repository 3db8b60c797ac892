"""Operations: health and readiness, Prometheus metrics, request logs, the status page."""
