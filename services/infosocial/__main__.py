from dyade.service import run
from dyade.settings import Settings
from services.infosocial.bootstrap import create_app

if __name__ == "__main__":
    run(create_app, "infosocial", Settings())
