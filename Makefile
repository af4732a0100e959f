# Two commands on a fresh machine (Python 3.11+, git, make):
#   make run    set up and start the gateway (a local model unless configured)
#   make test   set up and run the whole test suite
PY ?= python3
SHARED ?= ../shared
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: setup run test oracles bench lint typecheck clean

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml core/pyproject.toml $(wildcard plugins/*/pyproject.toml contrib/*/pyproject.toml)
	$(UV) sync --all-packages --locked --python $(PY)
	touch $@

setup: .venv/.synced

# The official SDKs judge our payloads from their own venvs (never the project's).
oracles:
	@if [ -d "$(SHARED)/oracles" ]; then \
	  for g in new old; do \
	    if [ ! -f .oracles/$$g/.ok ]; then \
	      $(PY) -m venv .oracles/$$g && \
	      .oracles/$$g/bin/pip install --quiet -r $(SHARED)/oracles/requirements-$$g.txt && \
	      touch .oracles/$$g/.ok || exit 1; \
	    fi; \
	  done; \
	else echo "no $(SHARED)/oracles: SDK oracle tests will be skipped"; fi

# The gateway with its embedded default (a local model) unless a config or provider keys
# say otherwise: PORT, CONFIG and the usual OPENAI_API_KEY / ANTHROPIC_API_KEY /
# GEMINI_API_KEY are honoured.
PORT ?= 8787
run: setup
	.venv/bin/omniwire serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

test: setup oracles
	.venv/bin/python -m pytest -q

# Benchmarks against raw httpx/aiohttp, the OpenAI SDK and LiteLLM (their own venv,
# .bench/); writes docs/benchmarks.md and .png. About ten minutes.
bench: setup
	.venv/bin/python -m omniwire_bench run

lint: setup
	.venv/bin/ruff check core plugins contrib tests
	.venv/bin/ruff format --check core plugins contrib tests

typecheck: setup
	.venv/bin/mypy

clean:
	rm -rf .venv .tools .oracles .bench
