"""Deployments: an NFT's agent run as a process of its own (Secret Panthers, seed 002)."""
