"""Test support: fixtures and helpers shared across test packages."""
