"""A scenario generated from the API document over safe operations (GET).

Operations come from the one spec model (``battletest.spec``: Swagger 2.0, OpenAPI 3.0 or 3.1)
and are requested at their URL path (the document's base path kept). Path and query parameters
take their value from the spec (``examples``, ``default``, the first ``enum`` value). A path parameter without one is correlated from an
earlier response: the operation becomes a task whose first step lists the parent collection
(``GET /v1/calls`` for ``GET /v1/calls/{call_id}``) and extracts the first item's field of
that name, else its ``id`` (see ``_items_path``).
Operations whose required parameters cannot be filled either way are skipped and named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from battletest.errors import SpecError
from battletest.load.flow import FlowScenario, parse_scenario
from battletest.spec import Operation, Parameter, Spec

SAFE = ("GET",)


def _example(param: Parameter) -> Any:
    schema = param.schema or {}
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    return None


def _items_path(op: Operation, param: str) -> str | None:
    """Where the first listed item's value for path parameter ``param`` sits in a collection's
    200 response (``0.id``, ``items.0.id``, ``items.0.metadata.name``), or None.

    The field is the parameter's own name, else ``id``, else the parameter's name one level
    down (Kubernetes' ``metadata.name``); items without documented properties are assumed to
    carry an ``id``. Items that document none of these cannot be correlated (Jupyter's
    terminals list ``name`` for ``{terminal_id}``): the operation is skipped, not loaded with a
    step that always fails to extract."""
    resp = op.responses.get("200")
    if resp is None:
        return None
    schema = next((s for s in resp.content.values() if isinstance(s, dict)), None)
    if schema is None:
        return None
    if schema.get("type") == "array":
        prefix, item = "0", schema.get("items")
    else:
        lists = [
            (name, prop)
            for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and prop.get("type") == "array"
        ]
        if not lists:
            return None
        prefix, item = f"{lists[0][0]}.0", lists[0][1].get("items")
    props = item.get("properties") if isinstance(item, dict) else None
    if not isinstance(props, dict) or not props:
        return f"{prefix}.id"
    for key in (param, "id"):
        if key in props:
            return f"{prefix}.{key}"
    for key, sub in props.items():
        if isinstance(sub, dict) and param in (sub.get("properties") or {}):
            return f"{prefix}.{key}.{param}"
    return None


def scenario_from_spec(spec: Spec, headers: Sequence[tuple[str, str]] = ()) -> FlowScenario:
    """Tasks for every safe operation whose parameters can be filled (see module docstring)."""
    head = {name: value.replace("{", "{{").replace("}", "}}") for name, value in headers}
    by_path = {op.url_path: op for op in spec.operations if op.method in SAFE}
    tasks: list[dict[str, Any]] = []
    for op in spec.operations:
        if op.method not in SAFE:
            continue
        path = op.url_path
        query: list[str] = []
        steps: list[dict[str, Any]] = []
        ok = True
        for param in op.parameters:
            value = _example(param)
            if param.location == "path":
                if value is not None:
                    path = path.replace("{" + param.name + "}", quote(str(value), safe=""))
                    continue
                parent_path = op.url_path.split("/{" + param.name + "}")[0]
                parent = by_path.get(parent_path)
                where = _items_path(parent, param.name) if parent is not None else None
                if parent is None or where is None or steps:
                    ok = False
                    break
                steps.append(
                    {
                        "name": f"{op.label} (list)",
                        "path": parent_path,
                        "headers": head,
                        "extract": {param.name: "json:" + where},
                    }
                )
            elif param.location == "query" and value is not None:
                query.append(f"{quote(param.name)}={quote(str(value), safe='')}")
            elif param.required:
                ok = False
                break
        if not ok:
            continue
        full = path + ("?" + "&".join(query) if query else "")
        full = full.replace("{", "{{").replace("}", "}}")
        for step in steps:  # the correlated parameter stays a template
            name = next(iter(step["extract"]))
            full = full.replace("{{" + name + "}}", "{" + name + "}")
        steps.append({"name": op.label, "path": full, "headers": head})
        tasks.append({"name": op.label, "steps": steps})
    if not tasks:
        raise SpecError(
            f"{spec.source} has no safe (GET) operation whose parameters can be filled",
            hint="add examples to the path parameters, or write a TOML scenario",
        )
    return parse_scenario({"name": f"from {spec.source}", "tasks": tasks}, spec.source)


def skipped_operations(spec: Spec) -> list[str]:
    """Safe operations ``scenario_from_spec`` cannot fill (for the console)."""
    made = scenario_from_spec(spec)
    labels = {t.name for t in made.tasks}
    return [op.label for op in spec.operations if op.method in SAFE and op.label not in labels]
