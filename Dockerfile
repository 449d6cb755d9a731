# A Pulse worker image: every package of the project with its runtime dependencies (no torch).
# The encoder model is mounted at /app/onnx_models (docker-compose.yml mounts ./onnx_models,
# exported once with `make model`); tests/unit/test_compose.py checks that every package the
# worker imports is copied.
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY core ./core
COPY encoders ./encoders
COPY ranking ./ranking
COPY trends ./trends
COPY feature_store ./feature_store
COPY personalisation ./personalisation
COPY streams ./streams
COPY replay ./replay
COPY tools ./tools
RUN pip install .
EXPOSE 6066
CMD ["pulse", "worker"]
