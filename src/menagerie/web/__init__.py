"""The server's own pages: the index and `/docs` (every dialect's OpenAPI, from local assets)."""
