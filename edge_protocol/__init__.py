"""Protocol shared by the plugin and the node installer (standard library only, CPython >= 3.8)."""
