"""autoencoders models."""
