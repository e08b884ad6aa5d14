"""Acceptance: the provider's lifecycle in a real account (`make acceptance`), and the same scenario
against the emulator in `make test` (tests/acceptance/)."""
