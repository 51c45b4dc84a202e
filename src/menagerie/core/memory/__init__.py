"""Memories: what agents remember about their users, searchable by keyword and relevance."""
