"""Process entry points for the multi-process race (spawned, so they live in a module)."""

from champion.errors import StaleVersion
from champion.registry import LookRecord, Registry


def ramp_once(url: str, name: str, to: float, by: str, barrier, results) -> None:
    """Read the version, wait for every rival to have read it too, then try one ramp."""
    with Registry(url) as registry:
        version = registry.get(name).version
        barrier.wait(timeout=60)
        try:
            state = registry.ramp(name, to, expected_version=version, by=by)
        except StaleVersion as e:
            results.put(("stale", by, e.expected, e.current))
        else:
            results.put(("won", by, version, state.version))


def record_look_once(url: str, fields: dict, barrier, results) -> None:
    """Wait for every rival to be ready, then record the same look (with its own numbers)."""
    with Registry(url) as registry:
        barrier.wait(timeout=60)
        stored = registry.record_look(LookRecord(**fields))
        results.put((fields["statistic"], stored.to_dict()))
