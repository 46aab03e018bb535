"""A local Sixtyfour Workflows API for demos, this provider's tests and your own DAG tests.

Start it in-process (``EmulatorServer(...).start()``, or as a context manager) or from the shell
(``sixtyfour-emulator --port 8064``). It needs the ``emulator`` extra (aiohttp), imported only
when a server starts.
"""

from airflow_provider_sixtyfour.emulator.faults import FAULT_KINDS, STORAGE_ROUTE, FaultRule
from airflow_provider_sixtyfour.emulator.server import EmulatorServer
from airflow_provider_sixtyfour.emulator.specs import DEFAULT_WORKFLOWS, WorkflowSpec

__all__ = ["DEFAULT_WORKFLOWS", "FAULT_KINDS", "STORAGE_ROUTE", "EmulatorServer", "FaultRule", "WorkflowSpec"]
