"""`python -m services.analytics`: serve the analytics API and dashboard on ANALYTICS_PORT (8005)."""
from dyade.service import run
from dyade.settings import Settings
from services.analytics.bootstrap import create_app

if __name__ == "__main__":
    run(create_app, "analytics", Settings())
