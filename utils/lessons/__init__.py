"""Each notebook's own code: one module per notebook, named after it."""
