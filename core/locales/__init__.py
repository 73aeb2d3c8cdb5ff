"""Message catalogs of the core: one TOML file per language."""
