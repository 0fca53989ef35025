from pathlib import Path

from segments.query.reference import attribute_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "segment-language.md"


def test_the_documented_attribute_table_is_the_registry():
    assert attribute_table() in DOC.read_text(), (
        "docs/segment-language.md is out of date: paste `python -m segments.query.reference`"
    )
