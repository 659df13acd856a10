"""One module per CLI command group; `flows.cli` registers them."""
