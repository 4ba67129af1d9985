"""Pure algorithms: no kfp, no google.cloud imports (tests/test_core_is_pure.py enforces it)."""
