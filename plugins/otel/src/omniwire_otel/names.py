"""Attribute and instrument names: the GenAI semantic conventions (development status,
as of the ``semantic-conventions-genai`` registry) and omniwire's own ``omniwire.*``."""

from __future__ import annotations

# -- gen_ai.* (semantic conventions) ---------------------------------------------------------
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TTFC = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT = "gen_ai.usage.input_tokens"
USAGE_OUTPUT = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_STATUS = "http.response.status_code"

# -- metrics -------------------------------------------------------------------------------
METRIC_DURATION = "gen_ai.client.operation.duration"
METRIC_TOKENS = "gen_ai.client.token.usage"
METRIC_TTFC = "gen_ai.client.operation.time_to_first_chunk"

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

# -- omniwire.* ----------------------------------------------------------------------------
ENDPOINT = "omniwire.endpoint"
KEY_ALIAS = "omniwire.key.alias"
ROUTE = "omniwire.request.model"
ATTEMPTS = "omniwire.attempts"
RETRIES = "omniwire.retries"
FAILOVER_CHAIN = "omniwire.failover.chain"
FAILOVER_ERRORS = "omniwire.failover.errors"
BUDGET_RESERVED = "omniwire.budget.reserved"
BUDGET_SETTLED = "omniwire.budget.settled"
COST_CURRENCY = "omniwire.cost.currency"
CONVERSION_SOURCE = "omniwire.conversion.source"
CONVERSION_TARGET = "omniwire.conversion.target"
CONVERSION_LOSSY = "omniwire.conversion.lossy"
CONVERSION_LOSSES = "omniwire.conversion.loss_reasons"
UPSTREAM_ERROR = "omniwire.error.upstream_type"
RETRY_EVENT = "omniwire.retry"
