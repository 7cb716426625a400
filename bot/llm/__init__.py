"""The model path: summaries written by an OpenAI-compatible model, cached per paper."""
