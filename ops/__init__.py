"""Operator tools run from a workstation against a deployed stack (not part of any Lambda package)."""
