"""Model serving: an HTTP scoring server for one model (the runtime that online endpoints run)."""
