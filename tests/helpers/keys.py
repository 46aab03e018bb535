"""The secrets the suite runs with; the secret audit (``tests/secret_audit.py``) looks for each in every output."""

from __future__ import annotations

TEST_API_KEY = "sk-test-0123456789abcdef-SECRET"
"""The API key the emulator accepts in tests; the secret audit looks for it in every output."""

WEBHOOK_SECRET = "sk_whsec_test-current-0123456789"
"""The signing secret emulators sign deliveries with in tests (audited like an API key)."""
WEBHOOK_OLD_SECRET = "sk_whsec_test-previous-9876543210"
"""The secret being rotated out in rotation tests."""
