"""A run of the simulator written to files once per session, read back by the tests."""
from __future__ import annotations

from datetime import date

import pytest

from dyade.simulation.profiles import PROFILES
from dyade.simulation.simulation import Knobs

from sim_helpers import Written, write_run  # type: ignore[import-not-found]


@pytest.fixture(scope="session")
def terrebonne_run(tmp_path_factory) -> Written:
    """Terrebonne over 120 days (≈ 23 000 calls): the run most tests read."""
    knobs = Knobs(PROFILES["terrebonne"], seed=2024, start=date(2026, 1, 5), days=120)
    return write_run(tmp_path_factory.mktemp("terrebonne"), knobs)
