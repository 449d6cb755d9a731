"""Text encoders: the all-MiniLM-L6-v2 export to ONNX, ONNX Runtime sessions, tokenisation,
the async micro-batcher and the query-embedding cache. Nothing here imports torch except
``encoders.export``, which runs only to make the model files."""
