"""Pure-Python delivery routing core (PyVRP based, no Django imports)."""
