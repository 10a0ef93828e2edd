"""Compatibility surfaces: the vendors' APIs (Vertex AI, Diffgram, …) as thin adapters
over services."""
