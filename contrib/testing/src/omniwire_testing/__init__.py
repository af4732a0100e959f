"""omniwire-testing: the conformance kit (work in progress)."""
