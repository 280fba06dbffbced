"""The AOM automation API: models, request signing and the async client."""
