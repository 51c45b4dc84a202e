"""The embedded local model: a GGUF model served by llama.cpp, prepared in the background."""
