"""The local platform: emulators, targets and launchers the scenarios run against (not tests)."""
