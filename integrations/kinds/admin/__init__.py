"""Pay2Slay admin API, /admin/* (PROTOCOLS.md section 5)."""
