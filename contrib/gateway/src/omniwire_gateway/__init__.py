"""omniwire-gateway: an OpenAI-, Anthropic- and Gemini-compatible server over omniwire."""
