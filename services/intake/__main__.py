"""`python -m services.intake`: the intake service on INTAKE_PORT (8001)."""
import sys

from dyade.service import run
from dyade.settings import Settings
from services.intake.bootstrap import GIL_SWITCH_INTERVAL_S, create_app

if __name__ == "__main__":
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))  # process-wide: here, not in tests
    run(create_app, "intake", Settings())
