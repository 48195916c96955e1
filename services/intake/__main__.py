"""`python -m services.intake`: the intake service on INTAKE_PORT (8001)."""
from dyade.service import run
from dyade.settings import Settings
from services.intake.api import create_app

if __name__ == "__main__":
    run(create_app, "intake", Settings())
