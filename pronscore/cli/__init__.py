"""The `pronscore` command line."""
