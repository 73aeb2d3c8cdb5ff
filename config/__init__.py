"""Policy files shipped with clientbook: ``default.toml`` and example institution policies."""
