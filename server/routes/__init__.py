"""Thin routers: parse, call core, encode. No arithmetic here."""
