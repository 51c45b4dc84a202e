"""Provider adapters: each turns a `ChatRequest` into a stream of typed events."""
