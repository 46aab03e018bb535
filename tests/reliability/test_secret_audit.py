"""The secret audit (``tests/secret_audit.py``) can fail: it is run on a small generated test file.

The generated tests each leak a secret one way (a log record, a structlog event, an exception message,
a serialized trigger, an Airflow home's database, log files and OpenLineage events, an e2e cluster's
service log and OpenLineage events, a failure report) or stay clean, or
opt out with the marker. A separate ``pytest`` process runs them with the plugin, and its JUnit report
must show exactly the leaking tests failed, each naming where the secret went, without the secret itself
appearing anywhere in that run's output.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from secret_audit import register_secret

#: Airflow 3.0's structlog set-up does not pass the audit's processor the events of a plain
#: ``structlog`` logger (found when the compat subset first ran there; the log-record, stdout, file and
#: XCom sources still work on 3.0). Known gap, listed in the README's "Airflow versions" section.
_STRUCTLOG_GAP = importlib.metadata.version("apache-airflow").startswith("3.0.")

TESTS_DIR = Path(__file__).resolve().parents[1]
GENERATED_KEY = "sk-generated-audit-key-0123456789abcdef"
SIGNATURE = "ab" * 32
GENERATED_WEBHOOK_SECRET = "sk_whsec_generated-audit-0123456789"
OPT_OUT_SECRET = "sk-opt-out-proof-9876543210fedcba"

GENERATED = (
    textwrap.dedent(
        """
    import json
    import logging
    import sqlite3

    import pytest
    from helpers.airflow_cli import AirflowCli
    from e2e.airflow_cluster import AirflowCluster

    from airflow_provider_sixtyfour.emulator import EmulatorServer

    KEY = "__KEY__"
    SIGNED_URL = "http://127.0.0.1:9/_storage/b/job/f.csv?expires=1790000000000&signature=__SIGNATURE__"
    EmulatorServer(api_keys=[KEY])  # from now on the audit looks for this key, as for every emulator's
    WEBHOOK_SECRET = "__WEBHOOK_SECRET__"


    def test_clean():
        logging.getLogger("tidy").warning("nothing secret here")


    def test_logs_the_key():
        logging.getLogger("careless").warning("connecting with %s", KEY)


    def test_structlog_event_carries_the_key():
        structlog = pytest.importorskip("structlog")
        structlog.get_logger("careless").warning("connecting", api_key=KEY)


    def test_logs_a_signed_url():
        logging.getLogger("careless").warning("downloading %s", SIGNED_URL)


    def test_logs_an_emulators_webhook_signing_secret():
        from airflow_provider_sixtyfour.emulator import WebhookSettings

        EmulatorServer(api_keys=[KEY], webhooks=WebhookSettings(signing_secret=WEBHOOK_SECRET))
        logging.getLogger("careless").warning("signing with %s", WEBHOOK_SECRET)


    def test_exception_message_carries_the_key():
        from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError

        try:
            raise SixtyfourInputError(f"the key {KEY} is wrong")
        except SixtyfourInputError:
            pass  # caught and never logged: still audited


    def test_serialized_trigger_carries_the_key():
        from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

        SixtyfourWorkflowRunTrigger(job_id=KEY).serialize()


    def test_failure_report_is_redacted():
        assert KEY == "the expected value"


    def test_airflow_home_database_and_logs(tmp_path):
        home = tmp_path / "home"
        (home / "logs").mkdir(parents=True)
        (home / "logs" / "attempt=1.log").write_text(f"using {KEY}")
        db = sqlite3.connect(home / "airflow.db")
        db.execute("CREATE TABLE xcom (key TEXT, value BLOB)")
        db.execute("INSERT INTO xcom VALUES ('links', ?)", (json.dumps({"url": SIGNED_URL}).encode(),))
        db.commit()
        db.close()
        AirflowCli(home=home, dags_folder=tmp_path)  # audited at teardown, like the airflow_cli fixture's
        cluster_home = tmp_path / "cluster"
        (cluster_home / "process-logs").mkdir(parents=True)
        (cluster_home / "process-logs" / "triggerer.log").write_text(f"polling {SIGNED_URL}")
        AirflowCluster(home=cluster_home, dags_folder=tmp_path)  # an e2e cluster's logs, also at teardown


    def test_lineage_events_of_an_airflow_home(tmp_path):
        home = tmp_path / "home"
        (home / "openlineage").mkdir(parents=True)
        event = {"eventType": "COMPLETE", "outputs": [{"namespace": "s3://b", "name": SIGNED_URL}]}
        (home / "openlineage" / "events.jsonl").write_text(json.dumps(event))
        AirflowCli(home=home, dags_folder=tmp_path)
        cluster_home = tmp_path / "cluster"
        (cluster_home / "openlineage").mkdir(parents=True)
        (cluster_home / "openlineage" / "events.jsonl").write_text(json.dumps({"run": {"facets": {"k": KEY}}}))
        AirflowCluster(home=cluster_home, dags_folder=tmp_path)


    @pytest.mark.secret_audit_exempt(reason="logs the key on purpose")
    def test_exempt():
        logging.getLogger("careless").warning("connecting with %s", KEY)


    @pytest.mark.secret_audit_exempt(reason="only logs are exempt", sources=("logs",))
    def test_partly_exempt():
        logging.getLogger("careless").warning("connecting with %s", KEY)
        from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

        SixtyfourWorkflowRunTrigger(job_id=KEY).serialize()
    """
    )
    .replace("__KEY__", GENERATED_KEY)
    .replace("__SIGNATURE__", SIGNATURE)
    .replace("__WEBHOOK_SECRET__", GENERATED_WEBHOOK_SECRET)
)


def outcomes(junit: Path) -> dict[str, str]:
    """``{test name: passed | failed | error | skipped}`` from a JUnit XML report."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 (our own report)
        kinds = {child.tag for child in case}
        outcome = "passed"
        for kind in ("skipped", "error", "failure"):
            if kind in kinds:
                outcome = {"failure": "failed"}.get(kind, kind)
        found[case.attrib["name"]] = outcome
    return found


@pytest.mark.xfail(_STRUCTLOG_GAP, reason="Airflow 3.0: the audit does not see plain structlog events", strict=False)
def test_the_audit_flags_every_kind_of_leak_and_honours_the_marker(tmp_path: Path) -> None:
    (tmp_path / "test_generated.py").write_text(GENERATED)
    junit = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "secret_audit",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-q",
            "-rA",
            f"--junitxml={junit}",
            "test_generated.py",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout
    assert proc.returncode == 1, output[-4000:]
    got = outcomes(junit)
    structlog_expected = "failed" if _has_structlog() else "skipped"
    assert got == {
        "test_clean": "passed",
        "test_logs_the_key": "failed",
        "test_structlog_event_carries_the_key": structlog_expected,
        "test_logs_a_signed_url": "failed",
        "test_logs_an_emulators_webhook_signing_secret": "failed",
        "test_exception_message_carries_the_key": "failed",
        "test_serialized_trigger_carries_the_key": "failed",
        "test_failure_report_is_redacted": "failed",
        "test_airflow_home_database_and_logs": "error",  # found at teardown, when the home is scanned
        "test_lineage_events_of_an_airflow_home": "error",  # also at teardown
        "test_exempt": "passed",
        "test_partly_exempt": "failed",  # its log line is exempt, its serialized trigger is not
    }, output[-6000:]
    # Each report names the place and the secret by label; the secrets themselves appear nowhere.
    for where in (
        "[logs] an emulator's API key key-",
        "log record of logger 'careless'",
        "[logs] a signed download URL's query string",
        "[logs] an emulator's webhook signing secret",
        "[exceptions] an emulator's API key",
        "message of a SixtyfourInputError",
        "[triggers] an emulator's API key",
        "serialized SixtyfourWorkflowRunTrigger",
        "[report] an emulator's API key",
        "[subprocess] an emulator's API key",
        "attempt=1.log",
        "[subprocess] a signed download URL's query string",
        "process-logs/triggerer.log",
        "[database] a signed download URL's query string",
        "airflow.db:xcom.value",
        "[lineage] a signed download URL's query string",
        "[lineage] an emulator's API key",
        "openlineage/events.jsonl",
    ):
        assert where in output, where
    if _has_structlog():
        assert "structlog event of logger 'careless'" in output
    assert GENERATED_KEY not in output
    assert SIGNATURE not in output
    assert GENERATED_WEBHOOK_SECRET not in output
    assert GENERATED_KEY not in junit.read_text()


def _has_structlog() -> bool:
    try:
        import structlog  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.secret_audit_exempt(reason="logs a secret on purpose, to check the opt-out", sources=("logs",))
def test_a_test_can_opt_out_with_the_marker() -> None:
    register_secret(OPT_OUT_SECRET, "the opt-out test's secret")
    logging.getLogger("tests.opt_out").warning("the secret is %s", OPT_OUT_SECRET)
