"""Message catalog of this plugin: one TOML file per language."""
