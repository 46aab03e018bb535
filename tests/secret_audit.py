"""A pytest plugin that fails any test which lets an API key or a signed download URL's query string out.

Registered for the whole suite from ``tests/conftest.py`` (``pytest_plugins``). For every test it watches:

* **logs**: every stdlib log record (a handler on the root logger and on every logger that does not
  propagate), and every structlog event (a processor put first in structlog's chain, which is where
  Airflow 3 sends task, hook and trigger logs); exception tracebacks attached to either included;
* **exceptions**: the message of every ``SixtyfourError`` and ``AirflowException`` created, raised or
  not, and every ``TriggerEvent`` payload;
* **report**: the test's own failure report (its traceback); it and the captured output (audited as
  logs) are redacted before pytest prints them;
* **triggers**: every ``SixtyfourWorkflowRunTrigger.serialize()`` result (what Airflow stores);
* **xcom**: every value pushed through the in-process ``FakeTaskInstance`` of ``tests/dags/support.py``;
* **subprocess**: the output of every ``airflow`` command run through ``AirflowCli.run``, and at teardown
  the log files of each ``AirflowCli`` home and of each e2e ``AirflowCluster`` (service and task logs);
* **lineage**: at teardown, every OpenLineage event file under ``openlineage/`` of each ``AirflowCli``
  home and e2e cluster home (where ``helpers.lineage.openlineage_env`` points the provider's file transport);
* **database**: at teardown, every row of the runtime tables (XCom values, rendered template fields,
  task instances and their ``next_kwargs``, triggers, DAG runs, asset events, the task state store, the
  event log, ...) of each ``AirflowCli`` home and e2e cluster database. Tables holding what the user
  wrote (DAG source, serialized DAGs, connections, variables) are not scanned.

The secrets: ``TEST_API_KEY``, the webhook signing secrets ``WEBHOOK_SECRET`` and ``WEBHOOK_OLD_SECRET``,
every webhook signing secret an ``EmulatorServer`` was created with (``webhooks=``), every secret a test
passes to :func:`register_secret` (the receiver's tests do), and every API key an ``EmulatorServer`` was
created with (keys shorter than
:data:`MIN_SECRET_LENGTH` characters are placeholders such as ``"a"`` that would match ordinary text, so
they are not audited), and a signed URL's query string as the emulator signs it (``expires=<epoch ms>``,
``signature=<HMAC hex>``). A finding fails the phase (setup, call or teardown) it happened in; the
report names where the secret appeared and shows a redacted excerpt, never the secret.

A test that puts a secret somewhere on purpose (to prove it is masked) opts out::

    @pytest.mark.secret_audit_exempt(reason="checks the masker hides the key", sources=("logs",))

``sources`` limits the exemption to some of :data:`SOURCES`; without it the whole audit is off for
that test.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MARKER = "secret_audit_exempt"
MIN_SECRET_LENGTH = 12
SOURCES = ("logs", "exceptions", "report", "triggers", "xcom", "subprocess", "database", "lineage")

#: A signed URL's query parameters as the emulator writes them (``protocol/redaction`` must strip them).
SIGNED_QUERY = re.compile(r"(?:\bsignature=[0-9a-fA-F]{32,}|\bexpires=\d{10,})")
SIGNED_QUERY_LABEL = "a signed download URL's query string"

#: Tables of an Airflow database that hold what the user wrote, not what running tasks produced.
_USER_TABLES = frozenset(
    {"dag_code", "serialized_dag", "connection", "variable", "alembic_version", "log_template", "sqlite_sequence"}
)
_EXCERPT = 60
_MAX_FINDINGS_SHOWN = 12


@dataclass(frozen=True)
class Finding:
    """One place where a secret appeared.

    :param source: one of :data:`SOURCES`.
    :param where: what exactly (a logger name, a file, a table and column, an exception class).
    :param secret: which secret, by label (never the value).
    :param excerpt: the text around it, with every secret replaced by its label.
    """

    source: str
    where: str
    secret: str
    excerpt: str

    def describe(self) -> str:
        return f"[{self.source}] {self.secret} in {self.where}: ...{self.excerpt}..."


class SecretAudit:
    """The audit's state: the secrets known so far, and the findings of the running test."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str, str]] = set()
        self.reported = 0
        self.exempt: frozenset[str] = frozenset()
        self.active = False
        self.cli_homes: list[Any] = []
        self.clusters: list[Any] = []
        self._lock = threading.Lock()
        self._installed = False
        self._handler: logging.Handler | None = None
        self._handler_targets: list[logging.Logger] = []

    # -- secrets ----------------------------------------------------------------------------------

    def add_secret(self, value: object, label: str) -> None:
        """Audit ``value`` from now on (ignored when shorter than :data:`MIN_SECRET_LENGTH`)."""
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self.secrets.setdefault(value, label)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``<label>``."""
        for secret, label in list(self.secrets.items()):
            text = text.replace(secret, f"<{label}>")
        return SIGNED_QUERY.sub("<signed query>", text)

    def hits(self, text: str) -> list[tuple[int, str]]:
        """``(position, label)`` of each kind of secret in ``text``."""
        found = []
        for secret, label in list(self.secrets.items()):
            position = text.find(secret)
            if position >= 0:
                found.append((position, label))
        match = SIGNED_QUERY.search(text)
        if match:
            found.append((match.start(), SIGNED_QUERY_LABEL))
        return found

    # -- scanning ---------------------------------------------------------------------------------

    def scan(self, source: str, where: str, text: object) -> None:
        """Record a finding for each secret in ``text`` (when the audit runs and ``source`` is not exempt)."""
        if not self.active or source in self.exempt:
            return
        if not isinstance(text, str):
            text = _text(text)
        if not text:
            return
        for position, label in self.hits(text):
            start = max(0, position - _EXCERPT)
            excerpt = self.redact(text[start : position + _EXCERPT * 2]).replace("\n", "\\n")
            finding = Finding(source, where, label, excerpt)
            with self._lock:
                if (source, where, label) not in self._seen:
                    self._seen.add((source, where, label))
                    self.findings.append(finding)

    def scan_files(self, source: str, paths: Iterable[Path]) -> None:
        for path in paths:
            if path.is_file():
                self.scan(source, str(path), path.read_text(errors="replace"))

    def scan_database(self, path: Path) -> None:
        """Scan every text value of the runtime tables of an Airflow SQLite database."""
        if "database" in self.exempt or not path.is_file():
            return
        for where, text in sqlite_texts(path):
            self.scan("database", f"{path}:{where}", text)

    # -- per test ---------------------------------------------------------------------------------

    def begin(self, item: pytest.Item) -> None:
        self.install()
        self.findings = []
        self._seen = set()
        self.reported = 0
        self.cli_homes = []
        self.clusters = []
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            self.exempt = frozenset()
        else:
            sources = marker.kwargs.get("sources") or SOURCES
            unknown = set(sources) - set(SOURCES)
            if unknown:
                raise pytest.UsageError(f"{MARKER}: unknown sources {sorted(unknown)}; use some of {SOURCES}")
            self.exempt = frozenset(sources)
        keys = sys.modules.get("helpers.keys")
        self.add_secret(getattr(keys, "TEST_API_KEY", None), "TEST_API_KEY")
        for name in ("WEBHOOK_SECRET", "WEBHOOK_OLD_SECRET"):
            self.add_secret(getattr(keys, name, None), name)
        self.active = True
        self._attach_log_handler()
        _install_structlog_processor()

    def finish_scans(self) -> None:
        """At teardown: the log files and databases of every Airflow home the test used."""
        for cli in self.cli_homes:
            home = Path(cli.home)
            if "subprocess" not in self.exempt:
                self.scan_files("subprocess", sorted((home / "logs").rglob("*")))
            self.scan_database(home / "airflow.db")
            self.scan_lineage(home)
        for cluster in self.clusters:
            home = Path(cluster.home)
            if "subprocess" not in self.exempt:
                self.scan_files("subprocess", sorted((home / "process-logs").glob("*.log")))
                self.scan_files("subprocess", sorted((home / "logs").rglob("*")))
            self.scan_database(home / "airflow.db")
            self.scan_lineage(home)

    def scan_lineage(self, home: Path) -> None:
        """Every OpenLineage event file the provider's file transport wrote under ``home/openlineage``."""
        if "lineage" not in self.exempt:
            self.scan_files("lineage", sorted((home / "openlineage").rglob("*")))

    def end(self) -> None:
        self.active = False
        self._detach_log_handler()
        self.cli_homes = []
        self.clusters = []

    def new_findings(self) -> list[Finding]:
        with self._lock:
            fresh = self.findings[self.reported :]
            self.reported = len(self.findings)
        return fresh

    def _attach_log_handler(self) -> None:
        if self._handler is None:
            self._handler = _AuditHandler(self)
        root = logging.getLogger()
        targets = [root]
        for logger in list(logging.root.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger) and not logger.propagate:
                targets.append(logger)
        for logger in targets:
            if self._handler not in logger.handlers:
                logger.addHandler(self._handler)
        self._handler_targets = targets

    def _detach_log_handler(self) -> None:
        for logger in self._handler_targets:
            if self._handler is not None:
                logger.removeHandler(self._handler)
        self._handler_targets = []

    # -- wrapping the code under test -------------------------------------------------------------

    def install(self) -> None:
        """Wrap, once per process, the places where secrets could leave (see the module docstring)."""
        if self._installed:
            return
        self._installed = True
        _wrap_exceptions(self)
        _wrap_trigger(self)
        _wrap_trigger_event(self)
        _wrap_test_helpers(self)


AUDIT = SecretAudit()


def register_secret(value: str, label: str = "a registered secret") -> None:
    """Audit ``value`` for the rest of the session (for tests with secrets of their own)."""
    AUDIT.add_secret(value, label)


# --------------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------------


class _AuditHandler(logging.Handler):
    """Scans each record (message, arguments and traceback), before any masking filter of other handlers."""

    def __init__(self, audit: SecretAudit) -> None:
        super().__init__(logging.NOTSET)
        self.audit = audit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [record.getMessage()]
        except Exception:
            parts = [str(record.msg), _text(record.args)]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        if record.exc_text:
            parts.append(record.exc_text)
        self.audit.scan("logs", f"log record of logger {record.name!r}", "\n".join(parts))


def _structlog_processor(logger: Any, method_name: str, event_dict: Any) -> Any:
    """First in structlog's chain: Airflow has already put the arguments into ``event`` by now."""
    audit = AUDIT
    if audit.active and "logs" not in audit.exempt:
        parts = [_text(value) for key, value in event_dict.items() if key != "exc_info"]
        exc_info = event_dict.get("exc_info")
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            parts.append("".join(traceback.format_exception(exc_info)))
        elif isinstance(exc_info, tuple) and exc_info and exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(*exc_info)))
        name = event_dict.get("logger") or event_dict.get("logger_name") or getattr(logger, "name", "?")
        audit.scan("logs", f"structlog event of logger {name!r}", "\n".join(parts))
    return event_dict


def _install_structlog_processor() -> None:
    """Put the processor first in structlog's current chain (in place: live loggers share the list)."""
    try:
        import structlog
    except ImportError:  # Airflow 2 logs through the standard library only
        return
    processors = structlog.get_config()["processors"]
    if _structlog_processor not in processors:
        processors.insert(0, _structlog_processor)


# --------------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------------


def _wrap_emulator(audit: SecretAudit) -> None:
    from airflow_provider_sixtyfour.emulator import EmulatorServer

    original = EmulatorServer.__init__

    @functools.wraps(original)
    def __init__(self: Any, api_keys: Any = ("emulator-dev-key",), *args: Any, **kwargs: Any) -> None:
        keys = api_keys.keys() if isinstance(api_keys, Mapping) else api_keys
        for key in list(keys or ()):
            audit.add_secret(key, f"an emulator's API key {EmulatorServer.key_label(str(key))}")
        webhooks = kwargs.get("webhooks")
        for secret in (getattr(webhooks, "signing_secret", None), getattr(webhooks, "previous_signing_secret", None)):
            audit.add_secret(secret, "an emulator's webhook signing secret")
        original(self, api_keys, *args, **kwargs)

    EmulatorServer.__init__ = __init__  # type: ignore[method-assign]


def _exception_classes() -> list[type[BaseException]]:
    from airflow_provider_sixtyfour.protocol.errors import SixtyfourError

    classes: list[type[BaseException]] = [SixtyfourError]
    for module, name in (("airflow.sdk.exceptions", "AirflowException"), ("airflow.exceptions", "AirflowException")):
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            continue
        if cls not in classes:
            classes.append(cls)
    return classes


def _wrap_exceptions(audit: SecretAudit) -> None:
    """Scan every new exception's message: also those a test catches, or the code logs without a trace.

    A subclass with an ``__init__`` of its own ends in ``super().__init__(message)``, which reaches this one.
    """
    for cls in _exception_classes():
        if "__init__" not in cls.__dict__:
            cls.__init__ = _scanning_init(cls, audit)  # type: ignore[method-assign]


def _scanning_init(cls: type[BaseException], audit: SecretAudit) -> Callable[..., None]:
    def __init__(self: BaseException, *args: Any, **kwargs: Any) -> None:
        super(cls, self).__init__(*args, **kwargs)
        if audit.active and "exceptions" not in audit.exempt:
            try:
                message = str(self)
            except Exception:  # a subclass's __str__ may need attributes it sets after this call
                message = _text(self.args)
            audit.scan("exceptions", f"message of a {type(self).__name__}", message)

    return __init__


def _wrap_trigger(audit: SecretAudit) -> None:
    from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

    original = SixtyfourWorkflowRunTrigger.serialize

    @functools.wraps(original)
    def serialize(self: Any) -> tuple[str, dict[str, Any]]:
        result = original(self)
        audit.scan("triggers", f"serialized {type(self).__name__}", json.dumps(result, default=repr))
        return result

    SixtyfourWorkflowRunTrigger.serialize = serialize  # type: ignore[method-assign]


def _wrap_trigger_event(audit: SecretAudit) -> None:
    from airflow.triggers.base import TriggerEvent

    original = TriggerEvent.__init__

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        audit.scan("triggers", "a TriggerEvent payload", _text(getattr(self, "payload", None)))

    TriggerEvent.__init__ = __init__  # type: ignore[method-assign]


def _wrap_test_helpers(audit: SecretAudit) -> None:
    """The suite's own helpers: ``AirflowCli`` (``helpers.airflow_cli``), ``FakeTaskInstance``, the e2e cluster.

    They are wrapped lazily, once their modules are imported (collection imports them before any test).
    """
    _when_imported("helpers.airflow_cli", lambda module: _wrap_airflow_cli(audit, module))
    _when_imported("dags.support", lambda module: _wrap_fake_ti(audit, module))
    _when_imported("e2e.airflow_cluster", lambda module: _wrap_cluster(audit, module))
    _when_imported("tests.e2e.airflow_cluster", lambda module: _wrap_cluster(audit, module))


_PENDING: dict[str, Callable[[Any], None]] = {}


def _when_imported(name: str, wrap: Callable[[Any], None]) -> None:
    module = sys.modules.get(name)
    if module is not None:
        wrap(module)
    else:
        _PENDING[name] = wrap


def _wrap_pending() -> None:
    for name in list(_PENDING):
        module = sys.modules.get(name)
        if module is not None:
            _PENDING.pop(name)(module)


def _wrap_airflow_cli(audit: SecretAudit, module: Any) -> None:
    cli_class = getattr(module, "AirflowCli", None)
    if cli_class is None or getattr(cli_class, "_secret_audit_wrapped", False):
        return
    original_init = cli_class.__init__
    original_run = cli_class.run

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if audit.active:
            audit.cli_homes.append(self)

    @functools.wraps(original_run)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        proc = original_run(self, *args, **kwargs)
        audit.scan("subprocess", f"output of 'airflow {' '.join(map(str, args))[:80]}'", proc.stdout or "")
        return proc

    cli_class.__init__ = __init__
    cli_class.run = run
    cli_class._secret_audit_wrapped = True


def _wrap_fake_ti(audit: SecretAudit, module: Any) -> None:
    ti_class = getattr(module, "FakeTaskInstance", None)
    if ti_class is None or getattr(ti_class, "_secret_audit_wrapped", False):
        return
    original = ti_class.xcom_push

    @functools.wraps(original)
    def xcom_push(self: Any, key: str, value: Any) -> None:
        audit.scan("xcom", f"XCom {key!r} of task {getattr(self, 'task_id', '?')!r}", _text(value))
        original(self, key, value)

    ti_class.xcom_push = xcom_push
    ti_class._secret_audit_wrapped = True


def _wrap_cluster(audit: SecretAudit, module: Any) -> None:
    cluster_class = getattr(module, "AirflowCluster", None)
    if cluster_class is None or getattr(cluster_class, "_secret_audit_wrapped", False):
        return
    original = cluster_class.__post_init__

    @functools.wraps(original)
    def __post_init__(self: Any) -> None:
        original(self)
        if audit.active:
            audit.clusters.append(self)

    cluster_class.__post_init__ = __post_init__
    cluster_class._secret_audit_wrapped = True


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return json.dumps(value, default=repr)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return ""


def sqlite_texts(path: Path) -> Iterator[tuple[str, str]]:
    """``("table.column", text)`` for every text or blob value of the runtime tables of a SQLite database."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table in _USER_TABLES:
                continue
            try:
                cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from sqlite_master)
            except sqlite3.Error:
                continue
            columns = [description[0] for description in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, (str, bytes)) and value:
                        yield f"{table}.{column}", _text(value)
    finally:
        connection.close()


def _captured_text(report: pytest.TestReport) -> str:
    """The output captured during this phase (the sections of earlier phases repeat in later reports)."""
    return "\n".join(content for title, content in report.sections if title.endswith(f" {report.when}"))


def _redact_report(report: pytest.TestReport) -> None:
    if report.longrepr is not None:
        text = str(report.longrepr)
        redacted = AUDIT.redact(text)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(title, AUDIT.redact(content)) for title, content in report.sections]


def _fail(report: pytest.TestReport, findings: list[Finding]) -> None:
    lines = [
        f"secret audit: {len(findings)} leak(s) of a secret during {report.when} "
        f"(opt out with @pytest.mark.{MARKER}(reason=..., sources=...) if the test means it):"
    ]
    lines.extend("  " + finding.describe() for finding in findings[:_MAX_FINDINGS_SHOWN])
    if len(findings) > _MAX_FINDINGS_SHOWN:
        lines.append(f"  ... and {len(findings) - _MAX_FINDINGS_SHOWN} more")
    audit_text = "\n".join(lines)
    if report.failed and report.longrepr is not None:
        report.longrepr = f"{report.longrepr}\n\n{audit_text}"
    else:
        report.longrepr = audit_text
    report.outcome = "failed"


# --------------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # Now, not at the first test: an emulator may be created while test modules are imported.
    _wrap_emulator(AUDIT)
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason, sources=None): the test puts a secret somewhere on purpose; the secret audit "
        f"ignores the given sources (default: all of {', '.join(SOURCES)})",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    AUDIT.begin(item)
    _wrap_pending()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    # After every fixture finalizer: the Airflow homes and clusters are stopped, their logs complete.
    AUDIT.finish_scans()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if AUDIT.active:
        AUDIT.scan("logs", f"the output captured during {report.when}", _captured_text(report))
        if report.longrepr is not None:
            AUDIT.scan("report", f"the failure report of {report.when}", str(report.longrepr))
    findings = AUDIT.new_findings()
    _redact_report(report)
    if findings:
        _fail(report, findings)
    if report.when == "teardown":
        AUDIT.end()
