"""Sensors that wait for Sixtyfour runs."""
