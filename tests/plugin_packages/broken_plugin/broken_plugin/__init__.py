"""A plugin whose import fails: clientbook must report it by name and carry on."""

raise ImportError("this plugin needs a package that is not installed")
