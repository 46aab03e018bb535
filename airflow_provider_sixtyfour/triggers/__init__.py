"""Triggers that wait for Sixtyfour runs in Airflow's triggerer."""
