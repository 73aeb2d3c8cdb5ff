"""The built-in plugins. Each registers through the ``clientbook`` entry-point group."""
