"""`make bench`: run every benchmark in its default size (each prints its figure beside its baseline)."""
import subprocess
import sys
from pathlib import Path

quick = "--quick" in sys.argv
failed = []
for path in sorted(Path(__file__).parent.glob("*.py")):
    if path.stem.startswith("_"):
        continue
    print(f"\n=== bench.{path.stem}", flush=True)
    rc = subprocess.call([sys.executable, "-m", f"bench.{path.stem}", *(["--quick"] if quick else [])])
    if rc:
        failed.append(path.stem)
print(f"\nresults in bench/results/; failed: {', '.join(failed) or 'none'}")
sys.exit(1 if failed else 0)
