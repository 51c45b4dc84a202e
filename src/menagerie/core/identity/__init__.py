"""Identity: tenants, users, API tokens and the principal every request acts as."""
