"""``labelport serve``: one FastAPI app with the native REST API and the compatibility surfaces."""
