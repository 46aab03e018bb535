"""Operator extra links to Sixtyfour."""
