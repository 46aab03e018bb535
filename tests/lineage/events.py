"""Validating OpenLineage events as written by the provider's file transport.

``openlineage-python`` ships the OpenLineage spec as the classes generated from its JSON schemas
(``openlineage.client.generated``: required fields, types, validators, each facet's ``_schemaURL``),
not as the JSON files themselves. So an event is checked by rebuilding it from its JSON with those
classes, each facet with the class whose ``_schemaURL`` it names, and requiring the rebuilt event to
serialise back to exactly the same JSON. Our own ``sixtyfour`` facet is also checked against the JSON
schema this repository publishes for it.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import attr

ROOT = Path(__file__).resolve().parents[2]

#: What the published facet schema refers to in the OpenLineage spec (RunFacet = a BaseFacet).
_BASE_FACET_SPEC = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    "$defs": {
        "BaseFacet": {
            "type": "object",
            "properties": {
                "_producer": {"type": "string", "format": "uri"},
                "_schemaURL": {"type": "string", "format": "uri"},
            },
            "required": ["_producer", "_schemaURL"],
        },
        "RunFacet": {"allOf": [{"$ref": "#/$defs/BaseFacet"}]},
    },
}


@cache
def facet_classes() -> dict[str, type]:
    """Every facet class openlineage-python, the Airflow provider and we define, by its ``_schemaURL``."""
    from airflow.providers.openlineage.plugins import facets as airflow_facets
    from openlineage.client import generated

    from airflow_provider_sixtyfour.lineage.run_facet import SixtyfourRunFacet

    modules = [
        importlib.import_module(f"openlineage.client.generated.{m.name}")
        for m in pkgutil.iter_modules(generated.__path__)
    ]
    found: dict[str, type] = {}
    for module in [*modules, airflow_facets]:
        for value in vars(module).values():
            if isinstance(value, type) and attr.has(value) and "_get_schema" in vars(value):
                found.setdefault(value._get_schema(), value)
    found[SixtyfourRunFacet._get_schema()] = SixtyfourRunFacet
    return found


def validate_event(event: dict[str, Any]) -> None:
    """Raise unless ``event`` is a valid OpenLineage RunEvent (see the module docstring)."""
    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.serde import Serde

    rebuilt = Serde.to_dict(_build(RunEvent, event, "event"))
    expected = _without_facets(json.loads(json.dumps(event)))
    assert rebuilt == expected, _difference(rebuilt, expected)
    facet = event["run"]["facets"].get("sixtyfour")
    if facet is not None:
        validate_sixtyfour_facet(facet)


def validate_sixtyfour_facet(facet: dict[str, Any]) -> None:
    """Raise unless ``facet`` fits the ``sixtyfour`` run facet's published JSON schema."""
    import jsonschema
    from referencing import Registry, Resource

    schema = json.loads((ROOT / "airflow_provider_sixtyfour/lineage/SixtyfourRunFacet.json").read_text())
    registry = Registry().with_resources(
        [
            (schema["$id"], Resource.from_contents(schema)),
            (_BASE_FACET_SPEC["$id"], Resource.from_contents(_BASE_FACET_SPEC)),
        ]
    )
    jsonschema.Draft202012Validator(
        {"$ref": schema["$id"] + "#/$defs/SixtyfourRunFacet"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    ).validate(facet)


def _build(cls: type, data: Any, where: str) -> Any:
    assert isinstance(data, dict), f"{where}: expected an object for {cls.__name__}, got {data!r}"
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attr.fields(cls)}
    unknown = set(data) - set(fields)
    # The spec lets some objects carry more properties: their classes have with_additional_properties.
    open_ended = callable(getattr(cls, "with_additional_properties", None))
    assert open_ended or not unknown, f"{where}: {cls.__name__} has no fields {sorted(unknown)}"
    kwargs = {}
    for name, field in fields.items():
        if field.init and name in data:
            kwargs[field.alias] = _convert(
                hints[name], data[name], f"{where}.{name}", facets=name == "facets" or name.endswith("Facets")
            )
    missing = [f.name for f in fields.values() if f.init and f.default is attr.NOTHING and f.name not in data]
    assert not missing, f"{where}: {cls.__name__} needs {missing}"
    built = cls(**kwargs)
    return built.with_additional_properties(**{k: data[k] for k in unknown}) if unknown else built


def _convert(hint: Any, value: Any, where: str, *, facets: bool = False) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)][:1] or [Any]
        return _convert(inner, value, where, facets=facets)
    if origin is list:
        return [_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if facets:  # each facet is checked on its own (below); the rebuilt event carries none
            for key, facet in value.items():
                _check_facet(facet, f"{where}.{key}")
            return {}
        return {k: _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and attr.has(hint):
        return _build(hint, value, where)
    if hint in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[hint]) and (hint is bool or not isinstance(value, bool))
        assert ok, f"{where}: expected {hint.__name__}, got {value!r}"
    return value


_PRIMITIVES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


def _check_facet(value: dict[str, Any], where: str) -> None:
    """Rebuild a facet with the class its ``_schemaURL`` names; a facet that names only the spec's base
    facet (as Airflow's own ``airflow*`` facets do) can only be held to the base facet's fields."""
    from openlineage.client.serde import Serde

    assert isinstance(value, dict), f"{where}: a facet must be an object, got {value!r}"
    url = value.get("_schemaURL")
    assert isinstance(value.get("_producer"), str), f"{where}: no _producer"
    assert value["_producer"], f"{where}: an empty _producer"
    assert isinstance(url, str), f"{where}: no _schemaURL"
    assert url.startswith("https://"), f"{where}: _schemaURL {url!r} is no https URL"
    cls = facet_classes().get(url)
    assert cls is not None, f"{where}: no openlineage-python facet has the _schemaURL {url!r}"
    if url.endswith(_BASE_FACETS):
        return
    rebuilt = Serde.to_dict(_build(cls, value, where))
    assert rebuilt == value, f"{where}: " + _difference(rebuilt, value)


_BASE_FACETS = tuple(
    f"#/$defs/{name}" for name in ("RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet", "OutputDatasetFacet")
)


def _without_facets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: {} if (k == "facets" or k.endswith("Facets")) else _without_facets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_facets(v) for v in value]
    return value


def _difference(rebuilt: Any, original: Any) -> str:
    mine, theirs = json.dumps(rebuilt, sort_keys=True)[:3000], json.dumps(original, sort_keys=True)[:3000]
    return f"rebuilt:\n{mine}\noriginal:\n{theirs}"


def task_events(events: list[dict[str, Any]], task_id: str, event_type: str) -> list[dict[str, Any]]:
    """The events of one task (job name ``DAG.TASK``) of one type (``START``, ``COMPLETE``, ``FAIL``)."""
    return [e for e in events if e["job"]["name"].endswith(f".{task_id}") and e["eventType"] == event_type]


def assert_one_output_per_landed_file(event: dict[str, Any], folder: Path) -> None:
    """``event`` has one output per CSV file in ``folder``: its name, its rows as rowCount, its header's columns."""
    import csv

    outputs = {(o["namespace"], o["name"]): o for o in event["outputs"]}
    files = sorted(folder.iterdir())
    assert set(outputs) == {("file", str(path)) for path in files}, sorted(outputs)
    for path in files:
        with path.open(newline="") as handle:
            header, *rows = list(csv.reader(handle))
        output = outputs[("file", str(path))]
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(rows), path.name
        assert output["outputFacets"]["outputStatistics"]["size"] == path.stat().st_size, path.name
        assert [f["name"] for f in output["facets"]["schema"]["fields"]] == header, path.name
        assert output["facets"]["storage"] == {
            **output["facets"]["storage"],
            "storageLayer": "file",
            "fileFormat": "csv",
        }
