from datetime import UTC, datetime, timedelta

from gateway.domain.outages import Incident, Maintenance, Probe
from gateway.services.operations import availability_percent

START = datetime(2026, 11, 1, tzinfo=UTC)


def _probes(minutes: int, failing: set[int] = frozenset(), skip: set[int] = frozenset()
            ) -> list[Probe]:
    return [Probe(START + timedelta(minutes=m), m not in failing)
            for m in range(minutes) if m not in skip]


def test_all_up() -> None:
    assert availability_percent(_probes(100), [], [], START, START + timedelta(minutes=100)) \
        == 100.0


def test_failed_probes_and_silence_count_as_down() -> None:
    now = START + timedelta(minutes=100)
    assert availability_percent(_probes(100, failing={10, 11}), [], [], START, now) == 98.0
    # No probe in minutes 50-59: minute 49's probe speaks for minute 50 too (2 minutes), and
    # 51-59 count as down.
    assert availability_percent(_probes(100, skip=set(range(50, 60))), [], [], START, now) \
        == 91.0


def test_outage_incidents_count_and_maintenance_does_not() -> None:
    now = START + timedelta(minutes=100)
    outage = Incident(1, "database down", True, START + timedelta(minutes=20),
                      START + timedelta(minutes=25))
    degraded = Incident(2, "slow", False, START, None)
    assert availability_percent(_probes(100), [outage, degraded], [], START, now) == 95.0
    window = Maintenance(1, START + timedelta(minutes=50), START + timedelta(minutes=60),
                         "upgrade", START - timedelta(days=4))
    # Down during an announced window does not count: 90 minutes counted, all up.
    assert availability_percent(_probes(100, failing=set(range(50, 60))), [], [window], START,
                                now) == 100.0


def test_nothing_observed_yet() -> None:
    assert availability_percent([], [], [], START, START + timedelta(hours=1)) is None
