"""Imports: pure converters per source format (Labelbox, Vertex AI, Diffgram, plain rows) and the
one streaming loader (:mod:`.load`) that writes their records into the catalog."""
