"""Discord OAuth2 login (PROTOCOLS.md section 2)."""
