"""`python -m services.notifier`: serve the notifier and the field app on settings.notifier_port."""
from dyade.service import run
from dyade.settings import Settings

from services.notifier.bootstrap import create_app

if __name__ == "__main__":
    run(create_app, "notifier", Settings())
