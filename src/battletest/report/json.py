"""report.json: the ``Report`` model as JSON, valid against ``schemas/report.schema.json``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from battletest.results import Report

FILENAME = "report.json"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "report.schema.json"


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, generated from the model (committed; a test compares)."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "battletest report.json"
    return schema


@cache
def committed_schema() -> dict[str, Any]:
    value = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def validate(document: Any) -> list[str]:
    """Problems of a report.json document against the committed schema ([] when valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(committed_schema())
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def dumps(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


def write(report: Report, folder: Path) -> Path:
    path = folder / FILENAME
    path.write_text(dumps(report), encoding="utf-8")
    return path


__all__ = ["FILENAME", "SCHEMA_PATH", "dumps", "report_json_schema", "validate", "write"]
