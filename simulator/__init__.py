"""Behaves like the four platforms: builds their payloads, breaks them on purpose, and sends them
the way each platform sends (credentials, batching, re-posts, JWTs, publisher confirms).

The simulator never imports ``receiver``: it is an independent reading of the same documents.
"""
