"""Find a Layer class from its name, for ``from_config`` of models.

There is no list to keep up to date: every subclass of :class:`Layer` that has been imported is
known, found by walking ``Layer.__subclasses__()`` recursively. The modules of ``rnnkit.layers``
are imported first, so the built-in layers are always there; a user's own layer is found as soon
as its class is defined (or pass it in ``custom_objects``)::

    >>> from rnnkit.layers.registry import get_layer_class
    >>> get_layer_class("InputLayer").__name__
    'InputLayer'

When two imported classes share a name, the last one the walk finds wins; ``custom_objects``
overrides both.
"""

import importlib
import inspect
import pkgutil

from .base import Layer

_import_errors = {}
_imported = False


def _import_layer_modules():
    """Import every module of the ``rnnkit.layers`` package once (errors are kept, not raised)."""
    global _imported
    if _imported:
        return
    _imported = True
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        name = f"{__package__}.{info.name}"
        try:
            importlib.import_module(name)
        except Exception as e:  # a half-written module must not break loading the others
            _import_errors[name] = f"{type(e).__name__}: {e}"


def layer_classes():
    """``{class name: class}`` for every imported subclass of Layer (Layer included)."""
    _import_layer_modules()
    found = {"Layer": Layer}
    stack = [Layer]
    seen = set()
    while stack:
        cls = stack.pop(0)
        for sub in cls.__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            found[sub.__name__] = sub
            stack.append(sub)
    return found


def get_layer_class(class_name, custom_objects=None):
    """The Layer subclass called ``class_name`` (``custom_objects`` is looked at first)."""
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    classes = layer_classes()
    if class_name in classes:
        return classes[class_name]
    msg = (f"unknown layer class {class_name!r}: define or import it before loading, or pass "
           f"custom_objects={{{class_name!r}: cls}}. Known: {', '.join(sorted(classes))}")
    if _import_errors:
        msg += ". These modules failed to import: " + "; ".join(
            f"{k} ({v})" for k, v in sorted(_import_errors.items()))
    raise ValueError(msg)


def serialize(layer):
    """``{"class_name": ..., "config": ...}`` for ``layer`` (JSON-able, no weights)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec, custom_objects=None):
    """A new layer (or model) from :func:`serialize`'s dict.

    A class whose ``from_config`` takes ``custom_objects`` (a model, which rebuilds its own
    layers) is given them; the others get the config alone.
    """
    cls = get_layer_class(spec["class_name"], custom_objects)
    config = dict(spec["config"])
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)
