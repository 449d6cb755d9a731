# A Pulse worker image. The ONNX model is exported at build time in a later stage of the
# encoder work; this image runs the worker with its runtime dependencies only (no torch).
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
