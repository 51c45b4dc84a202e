"""Language models: providers, catalogue, router, usage ledger, quotas, managed endpoints."""
