"""One module per command: each parses its flags and prints; the logic lives elsewhere."""
