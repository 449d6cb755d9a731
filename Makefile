# Pulse: `make help` lists the targets. The two that matter: `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv/bin

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install everything (venv, redis-server, Kafka jars); idempotent
	@infra/setup.sh

up: setup ## Start local Kafka and Redis on 127.0.0.1
	@infra/stack.sh up

down: ## Stop local Kafka and Redis
	@infra/stack.sh down

status: ## Show whether Kafka and Redis run
	@infra/stack.sh status

prune: setup ## Delete the topics and Redis keys that killed test and benchmark runs left (none may be running)
	@infra/stack.sh run $(VENV)/python -m tools.prune_runs

model: setup ## Export the encoder model to onnx_models/ unless a valid export is there
	@infra/model.sh

demo: setup model ## Start Kafka, Redis and a worker; replay Online Retail for a minute; stop
	@infra/stack.sh run $(VENV)/pulse demo

test: ## Run unit and integration tests against real Kafka and Redis (exports the model once)
	@infra/setup.sh --export && infra/model.sh && infra/stack.sh run $(VENV)/pytest tests/unit tests/integration

test-chaos: ## Fault tests on the real stack: kill -9, Redis and Kafka restarts, poison messages
	@infra/setup.sh --export && infra/model.sh && infra/stack.sh run $(VENV)/pytest tests/chaos

RUNS ?= 3
bench-e2e: setup model ## End-to-end benchmark on the real stack, RUNS=3 click sweeps (about 50 min); JSON + PNG
	@infra/stack.sh run $(VENV)/python -m bench.e2e_bench --runs $(RUNS)

bench-scale: setup model ## End to end, one and two workers, on one Redis and on the local Redis Cluster (about 20 min); JSON + PNG
	@infra/stack.sh run $(VENV)/python -m bench.e2e_bench --setups engine two_workers engine_cluster two_workers_cluster --rates 500 1000 2000 3000 --no-engine-extras --name e2e-cluster

bench-forget: setup model ## Delete-to-gone time of 1,000 deletions under 1,000 clicks/s, 2 workers
	@infra/stack.sh run $(VENV)/python -m bench.forget_bench

bench-soak: setup model ## Soak: 10 min of mixed events at 500/s (2,000 shoppers); RSS, Redis memory, lag; JSON + PNG
	@infra/stack.sh run $(VENV)/python -m bench.soak

bench-quality: model ## Quality on Online Retail (design 7): engine vs baselines; JSON + PNG
	@$(VENV)/python -m bench.quality_bench

bench-search: model ## Search relevance on Online Retail: words, meaning, hybrid, personalised; JSON + PNG
	@$(VENV)/python -m bench.search_bench

bench-sessions: model ## Next-click quality on YOOCHOOSE and Taobao sessions: engine vs session baselines; JSON + PNG
	@$(VENV)/python -m bench.session_bench

bench-quality-kafka: setup model ## A slice of the quality replay through Kafka + a worker: same lists?
	@infra/stack.sh run $(VENV)/python -m bench.quality_kafka

bench-trends: setup model ## Trend detection on the real stack: burst -> trending_item latency; JSON + PNG
	@infra/stack.sh run $(VENV)/python -m bench.trends_bench

bench-trends-real: setup ## Trend signals on Online Retail (peak hours) and Taobao (trending); JSON + PNG
	@$(VENV)/python -m bench.trends_real

bench-bandit: setup ## Exploration simulation: Thompson vs epsilon-greedy vs none; JSON + PNG
	@$(VENV)/python -m bench.bandit_sim

bench-ann: model ## Item index: exact numpy vs HNSW (usearch) by catalogue size; JSON + PNG
	@$(VENV)/python -m bench.ann_bench

bench-encoder: model ## Encoder benchmark (raw ORT vs micro-batcher, fp32 vs int8); JSON + PNG
	@$(VENV)/python -m bench.encoder_bench

unit: setup ## Run the unit tests only (no services)
	@$(VENV)/pytest tests/unit

lint: setup ## ruff (lint and format check) and mypy
	@$(VENV)/ruff check . && $(VENV)/ruff format --check . && $(VENV)/mypy

format: setup ## Format the code with ruff
	@$(VENV)/ruff format . && $(VENV)/ruff check --fix .

.PHONY: help setup model up down status prune demo test test-chaos bench-e2e bench-scale bench-forget bench-soak bench-quality bench-search bench-sessions bench-quality-kafka bench-trends bench-trends-real bench-bandit bench-ann bench-encoder unit lint format
