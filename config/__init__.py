"""Files shipped with clientbook: ``default.toml`` (the default policy), example institution
policies (``examples/``, ``--config NAME``) and example mappings (``mappings/``, ``--mapping NAME``)."""
