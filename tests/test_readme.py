"""The README stays true: its commands, snippets and parameter tables are checked against the code."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

BLOCK = re.compile(r"(?:<!-- (?P<marker>[a-z]+): (?P<arg>[^ ]+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
PUBLIC_CLASSES = {
    "SixtyfourRunWorkflowOperator": "airflow_provider_sixtyfour.operators.sixtyfour",
    "SixtyfourDownloadResultsOperator": "airflow_provider_sixtyfour.operators.sixtyfour",
    "SixtyfourCancelRunOperator": "airflow_provider_sixtyfour.operators.sixtyfour",
    "SixtyfourWorkflowRunSensor": "airflow_provider_sixtyfour.sensors.sixtyfour",
    "SixtyfourWorkflowRunTrigger": "airflow_provider_sixtyfour.triggers.sixtyfour",
    "SixtyfourWorkflowRunEventTrigger": "airflow_provider_sixtyfour.triggers.sixtyfour",
}


def _blocks(lang: str | None = None) -> list[re.Match[str]]:
    return [m for m in BLOCK.finditer(README) if lang is None or m["lang"] == lang]


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_quick_start_is_exactly_the_two_commands_and_ci_runs_the_test_one() -> None:
    (block,) = [m for m in _blocks("bash") if m.start() > README.index("## Quick start")][:1]
    commands = [line for line in block["body"].splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"


@pytest.mark.parametrize("match", [m for m in _blocks() if m["marker"] == "snippet"], ids=lambda m: m["arg"])
def test_snippets_are_quoted_from_code_the_tests_run(match: re.Match[str]) -> None:
    source = (ROOT / match["arg"]).read_text()
    assert match["body"] in source, f"the README snippet is no longer in {match['arg']}"


@pytest.mark.parametrize("match", [m for m in _blocks("python") if m["marker"] is None], ids=str)
def test_other_python_blocks_compile_and_name_real_classes(match: re.Match[str]) -> None:
    tree = ast.parse(match["body"])
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    for name in called & set(PUBLIC_CLASSES):
        assert hasattr(importlib.import_module(PUBLIC_CLASSES[name]), name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PUBLIC_CLASSES:
            cls = getattr(importlib.import_module(PUBLIC_CLASSES[node.func.id]), node.func.id)
            accepted = set(inspect.signature(cls.__init__).parameters) | {"task_id"}
            for keyword in node.keywords:
                assert keyword.arg in accepted, f"{node.func.id} has no parameter {keyword.arg}"


def _table_after(marker: str) -> list[list[str]]:
    start = README.index(f"<!-- params: {marker} -->")
    lines = README[start:].splitlines()[1:]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


@pytest.mark.parametrize("name", sorted(PUBLIC_CLASSES))
def test_parameter_tables_match_the_signatures(name: str) -> None:
    cls = getattr(importlib.import_module(PUBLIC_CLASSES[name]), name)
    params = {
        key: value
        for key, value in inspect.signature(cls.__init__).parameters.items()
        if key not in {"self", "kwargs", "args"}
    }
    rows = _table_after(name)
    documented = {re.match(r"`(\w+)`", row[0]).group(1): row for row in rows}  # type: ignore[union-attr]
    assert set(documented) == set(params), f"README table of {name} differs from its signature"
    templated = set(getattr(cls, "template_fields", ()))
    for key, row in documented.items():
        assert ("*(t)*" in row[0]) == (key in templated), f"{name}.{key}: templated mark wrong in the README"
        default = params[key].default
        cell = row[1]
        if cell == "required":
            assert default is inspect.Parameter.empty, f"{name}.{key} has a default; README says required"
        elif cell.startswith("`") and cell.endswith("`"):
            assert ast.literal_eval(cell.strip("`")) == default, f"{name}.{key}: README default {cell} != {default!r}"
        else:
            assert default is not inspect.Parameter.empty


def test_connection_table_lists_every_extra_field_with_its_default() -> None:
    from airflow_provider_sixtyfour.connection_form import EXTRA_FIELDS

    section = _section("Connection")
    for extra in EXTRA_FIELDS:
        assert f"extra `{extra.name}`" in section
        shown = f"{extra.default:g}" if isinstance(extra.default, float) else str(extra.default)
        assert shown in section, f"README does not give {extra.name}'s default {extra.default}"


def test_env_connection_example_is_the_form_the_hook_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    (line,) = [line for line in README.splitlines() if line.startswith("export AIRFLOW_CONN_SIXTYFOUR_DEFAULT=")]
    value = line.split("=", 1)[1].strip("'").replace("<your API key>", "sk-readme")
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", value)
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    settings = SixtyfourHook().settings
    assert settings.api_key == "sk-readme"
    assert settings.base_url == "https://api.sixtyfour.ai"


def test_every_error_class_has_a_troubleshooting_row() -> None:
    from airflow_provider_sixtyfour.protocol import errors

    section = _section("Troubleshooting")
    classes = [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, errors.SixtyfourError) and obj.__module__ == errors.__name__
    ]
    for cls in classes:
        if cls in (errors.SixtyfourError, errors.SixtyfourApiError):
            continue
        assert f"`{cls.__name__}`" in section, f"no troubleshooting row for {cls.__name__}"


def test_emulator_command_line_in_the_readme_parses() -> None:
    from airflow_provider_sixtyfour.emulator.__main__ import _parser

    (command,) = re.findall(r"`(sixtyfour-emulator [^`]+)`", README)
    args = _parser().parse_args(command.split()[1:])
    assert args.host == "127.0.0.1"
    assert (ROOT / "demo" / "emulator.json").is_file()


def test_every_example_dag_is_named_in_the_readme() -> None:
    for path in (ROOT / "example_dags").glob("*.py"):
        assert f"`{path.stem}`" in README, f"README does not mention the example DAG {path.stem}"


def test_lineage_section_lists_every_field_of_the_sixtyfour_facet_and_its_schema() -> None:
    import json

    import attr

    from airflow_provider_sixtyfour.lineage import SCHEMA_PATH
    from airflow_provider_sixtyfour.lineage.run_facet import SixtyfourRunFacet

    section = _section("Lineage (OpenLineage)")
    assert README.index("## Lineage (OpenLineage)") < README.index("## Testing your own DAGs with the emulator")
    fields = [f.name for f in attr.fields(SixtyfourRunFacet) if not f.name.startswith("_")]
    (row,) = [line for line in section.splitlines() if line.startswith("| run facet `sixtyfour` |")]
    assert re.findall(r"`(\w+)`", row.split("|")[2])[: len(fields)] == fields
    schema = json.loads((ROOT / SCHEMA_PATH).read_text())
    own = schema["$defs"]["SixtyfourRunFacet"]["allOf"][1]["properties"]
    assert list(own) == fields
    assert SCHEMA_PATH in section


def test_the_bad_input_table_count_is_the_number_of_its_rows() -> None:
    tree = ast.parse((ROOT / "tests/reliability/test_bad_input.py").read_text())
    [cases] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "CASES"
    ]
    assert isinstance(cases, ast.Dict)
    said = re.search(r"\*\*Bad input\*\* \(`test_bad_input.py`\)\. One table of (\d+) rows", README)
    assert said, "the README's reliability section no longer says how many bad-input rows there are"
    assert int(said.group(1)) == len(cases.keys)


def test_the_code_map_names_every_module_of_the_package_once() -> None:
    package = ROOT / "airflow_provider_sixtyfour"
    modules = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py"))
    listed = re.findall(r"^- `([^`]+\.py)`: \S", _section("How the code is laid out"), re.M)
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(listed) == modules, (
        f"missing from the README's map: {sorted(set(modules) - set(listed))}; "
        f"listed but not in the package: {sorted(set(listed) - set(modules))}"
    )
