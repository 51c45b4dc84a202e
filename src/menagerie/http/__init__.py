"""HTTP plumbing shared by every dialect: middleware, error envelopes, request dependencies."""
