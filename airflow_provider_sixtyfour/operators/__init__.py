"""Operators: run a Sixtyfour workflow, cancel a run, download a run's results."""
