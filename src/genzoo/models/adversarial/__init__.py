"""adversarial models."""
