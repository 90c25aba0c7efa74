"""The generic "http" kind: any service with a status URL."""
