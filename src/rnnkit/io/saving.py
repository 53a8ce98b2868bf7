"""``model.save`` / ``rnnkit.load_model`` and ``save_weights`` / ``load_weights``.

One file holds everything, in the safetensors format (see :mod:`rnnkit.io.safetensors_format`):
the weights as tensors named ``weights/<index>/<weight path>``, the optimizer's state as
``optimizer/<name>``, and in the header's metadata the architecture and the compile arguments as
JSON. No pickle and no code: loading reads JSON and raw numbers, checks every name and shape
against the rebuilt model, and only then copies the values in. A loaded model predicts
bit-for-bit what the saved one did.

    >>> import numpy as np, os, tempfile, rnnkit
    >>> model = rnnkit.Sequential([rnnkit.layers.Input((5, 3)), rnnkit.layers.LSTM(4)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.rnnkit")
    >>> model.save(path)
    >>> x = np.ones((2, 5, 3), dtype="float32")
    >>> bool(np.array_equal(rnnkit.load_model(path).predict(x), model.predict(x)))
    True
"""

import json

import numpy as np

from .. import config
from ..layers import registry
from .errors import FileFormatError
from .safetensors_format import load, read_header, save

FORMAT = "rnnkit.model"
WEIGHTS_FORMAT = "rnnkit.weights"
VERSION = "1"


def _weight_key(i, w):
    return f"weights/{i:05d}/{w.path}"


def _weights_dict(model):
    return {_weight_key(i, w): w.value for i, w in enumerate(model.weights)}


def _expected(model):
    return {_weight_key(i, w): (w.shape, w.dtype) for i, w in enumerate(model.weights)}


def save_model(model, path):
    """Write the architecture, the weights and (if compiled) the optimizer state to ``path``."""
    tensors = _weights_dict(model)
    meta = {"format": FORMAT, "format_version": VERSION, "floatx": config.floatx(),
            "model": json.dumps(registry.serialize(model))}
    if getattr(model, "compiled_loss", None) is not None:
        meta["compile"] = json.dumps(model._compile_config())
        for name, array in model.optimizer.get_state().items():
            tensors[f"optimizer/{name}"] = np.asarray(array)
    save(path, tensors, meta)


def save_weights(model, path):
    """Write only the weights (in ``get_weights`` order, keyed by weight path) to ``path``."""
    save(path, _weights_dict(model), {"format": WEIGHTS_FORMAT, "format_version": VERSION})


def _check_format(path, meta, expected_format):
    fmt = meta.get("format")
    if fmt not in (FORMAT, WEIGHTS_FORMAT):
        raise FileFormatError(f"{path}: a safetensors file, but not one rnnkit wrote "
                              f"(format {fmt!r})")
    if expected_format == FORMAT and fmt != FORMAT:
        raise FileFormatError(f"{path}: holds only weights; build the model and call "
                              "model.load_weights(path) instead")
    if meta.get("format_version") != VERSION:
        raise FileFormatError(f"{path}: format version {meta.get('format_version')!r}, this "
                              f"rnnkit reads version {VERSION}")


def _json(path, meta, key):
    try:
        return json.loads(meta[key])
    except KeyError:
        raise FileFormatError(f"{path}: the file has no {key!r} entry") from None
    except (json.JSONDecodeError, RecursionError):
        raise FileFormatError(f"{path}: the {key!r} entry is not valid JSON") from None


def _split(tensors):
    weights = {k: v for k, v in tensors.items() if k.startswith("weights/")}
    opt = {k[len("optimizer/"):]: v for k, v in tensors.items() if k.startswith("optimizer/")}
    return weights, opt


def _assign(model, path, weights):
    expected = _expected(model)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise FileFormatError(f"{path}: weights do not match the model: missing "
                              f"{missing or 'none'}, unexpected {extra or 'none'}")
    for key, (shape, _) in expected.items():
        if weights[key].shape != shape:
            raise FileFormatError(f"{path}: weight {key!r} has shape {weights[key].shape} in the "
                                  f"file, the model expects {shape}")
        if weights[key].dtype.kind != "f":
            raise FileFormatError(f"{path}: weight {key!r} has dtype {weights[key].dtype}")
    model.set_weights([weights[k] for k in expected])


def load_model(path, custom_objects=None, compile=True):
    """Rebuild the model saved at ``path`` with its weights (and compiled state)."""
    header, _ = read_header(path)
    meta = header.get("__metadata__", {})
    _check_format(path, meta, FORMAT)
    spec = _json(path, meta, "model")
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise FileFormatError(f"{path}: the architecture entry is not a layer description")
    try:
        model = _deserialize_model(spec, custom_objects)
    except FileFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise FileFormatError(f"{path}: cannot rebuild the architecture: {e}") from None
    tensors, _ = load(path)
    weights, opt_state = _split(tensors)
    _assign(model, path, weights)
    if compile and "compile" in meta:
        try:
            model._compile_from_config(_json(path, meta, "compile"))
            if opt_state:
                model.optimizer.set_state(opt_state)
        except (ValueError, TypeError, KeyError) as e:
            raise FileFormatError(f"{path}: cannot restore the compile state: {e}") from None
    return model


def _deserialize_model(spec, custom_objects):
    from ..models import Model, Sequential  # noqa: F401  (registers the model classes)

    model = registry.deserialize(spec, custom_objects)
    if not model.built and getattr(model, "_input_batch_shape", None) is not None:
        model.build()
    return model


def load_weights(model, path):
    """Copy the weights saved at ``path`` (by ``save_weights`` or ``save``) into ``model``."""
    header, _ = read_header(path)
    _check_format(path, header.get("__metadata__", {}), WEIGHTS_FORMAT)
    if not model.built:
        raise FileFormatError(f"{model.name}: build the model before load_weights({path!r})")
    weights, _ = _split(load(path)[0])
    _assign(model, path, weights)
