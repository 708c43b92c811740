"""The `pronscore` command line: the top floor, which may import every other package."""
