"""Pure computation: torch, numpy and PIL. Nothing here imports the web framework."""
