"""Workflows: step-by-step agent conversations defined in YAML, their per-tenant state, and the
story board of a project's workflow status file."""
