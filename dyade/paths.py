"""Where the reference material shipped in the repository lives: the NENA EIDO standard (schema and sample)
and a sample of real Berkeley police call logs. Each folder has a README.md naming its source and licence.

The full Berkeley 2014 log (116 days) is not in the repository; the intake benchmark reads it from
DYADE_BERKELEY_DIR when given (see bench/intake.py)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dyade"
EIDO_STANDARD = PACKAGE / "standards" / "nena-eido"
BERKELEY = PACKAGE / "data" / "berkeley-2014"
