"""Where the project's shared material lives: `shared/` beside the repository (domain documents, the NENA
EIDO standard, real call logs). DYADE_SHARED overrides it."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DYADE_SHARED", ROOT.parent / "shared"))
EIDO_STANDARD = SHARED / "standards" / "nena-eido"
BERKELEY = SHARED / "data" / "calls-for-service" / "berkeley-2014"
