# A Pulse worker image: every package of the project with its runtime dependencies (no torch).
# The encoder model is mounted at /app/onnx_models (docker-compose.yml mounts ./onnx_models,
# exported once with `make model`); tests/unit/test_compose.py checks that every package the
# worker imports is copied.
FROM rust:1-slim-bookworm AS kernels
# The compiled kernels (kernels/, Rust) built into an abi3 wheel; the worker image takes the
# wheel only, not the toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && python3 -m venv /maturin && /maturin/bin/pip install "maturin>=1.7,<2"
COPY kernels /kernels
RUN /maturin/bin/maturin build --release -m /kernels/Cargo.toml -o /wheels

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
COPY --from=kernels /wheels /wheels
# PULSE_EXTRAS=gpu (the compose file's worker-gpu) adds the CUDA and cuDNN libraries.
ARG PULSE_EXTRAS=""
RUN pip install /wheels/*.whl ".${PULSE_EXTRAS:+[$PULSE_EXTRAS]}"
EXPOSE 6066
CMD ["pulse", "worker"]
