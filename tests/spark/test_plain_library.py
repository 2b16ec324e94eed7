"""spark/ is a plain Python library: it imports nothing of Django or of the portal (the sandbox,
a Django app of its own, is moving out of it)."""

import re
from pathlib import Path

SPARK = Path(__file__).resolve().parents[2] / "spark"
PORTAL = ("django", "accounts", "drafts", "media_manager", "mls", "listings_portal")


def test_the_spark_library_imports_nothing_of_django_or_the_portal():
    sources = [path for path in SPARK.rglob("*.py") if "sandbox" not in path.relative_to(SPARK).parts]
    assert len(sources) >= 5  # the scan finds the library
    found = [
        f"{path.name}: {line.strip()}"
        for path in sources
        for line in path.read_text().splitlines()
        if re.match(rf"\s*(from|import)\s+({'|'.join(PORTAL)})\b", line)
    ]
    assert found == []
