"""Heavy orchestrations: a list of tool steps run as one run on the worker (issue 12)."""
