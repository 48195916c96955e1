"""The README is a newcomer's first page: its commands and configuration table must match the code."""
from pathlib import Path

from dyade.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in README]
    assert missing == []


def test_ci_runs_exactly_the_readme_test_command():
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line.strip().startswith("make ")] == ["make test"]


def test_readme_run_command_exists_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    assert "make up" in README and "\nup:" in makefile and "dyade up" in makefile
