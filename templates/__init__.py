"""Jinja2 templates of the progress memo (shipped as package data)."""
