"""Model definitions and the registry of stable model ids."""
