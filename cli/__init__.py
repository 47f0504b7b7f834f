"""The `zov` command line."""
