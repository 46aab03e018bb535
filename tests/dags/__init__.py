"""DAG files and helpers for the run/cancel operator tests (real Airflow, real HTTP to the emulator)."""
