"""The architectures, one module each, all built from :class:`utils.blocks.LayerFactory`.

Each module has ``build(inputs, layers, num_classes, dropout)``, which returns the output
tensor, and ``DEFAULT_DROPOUT``. :func:`utils.models.build_model` is the public entry point.
"""
