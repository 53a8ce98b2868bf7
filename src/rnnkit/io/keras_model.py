"""Whole Keras 3 models: ``.keras`` archives written and read, architecture and weights.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the architecture, as
``keras.saving.serialize_keras_object`` writes it) and ``model.weights.h5`` (the weights, laid
out as :mod:`rnnkit.io.keras_layout` says). ``save_keras_model(model, path)`` writes one that
real Keras 3 opens with ``keras.saving.load_model``; ``load_keras_model(path)`` builds the
rnnkit model a Keras 3 file describes and loads its weights.

Reading is data only: the architecture comes from the JSON, each layer's class is looked up by
name among rnnkit's own layers, and a class rnnkit does not have (a ``Lambda``, a user's custom
layer) stops the load with a :class:`~rnnkit.errors.FileFormatError` naming it: no code from a
file ever runs. A Keras argument rnnkit does not implement is accepted only at its default
value (``kernel_regularizer: null``, ``renorm: false``...); any other value is an error that
names the layer and the argument, never silently dropped.

Keras's configuration and rnnkit's differ only in their wrapping (``module``,
``registered_name``, ``build_config``, dtype policies, initializer class names in CamelCase)
and in how a functional graph writes its calls (``args``/``kwargs`` with ``__keras_tensor__``
references against rnnkit's ``inputs``/``tensor_kwargs``/``kwargs``); both are translated here.

>>> import numpy as np, os, tempfile, rnnkit
>>> from rnnkit.layers import Input, LSTM, Dense
>>> model = rnnkit.Sequential([Input((5, 3)), LSTM(4), Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> save_keras_model(model, path)
>>> again = load_keras_model(path)
>>> x = np.ones((2, 5, 3), dtype="float32")
>>> bool(np.array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0)))
True
"""

import datetime
import inspect
import io
import json
import os
import re
import zipfile

from .. import initializers
from ..errors import FileFormatError
from ..layers import registry, weight_options
from . import keras_h5
from .safetensors_format import atomic_write

KERAS_VERSION = "3.15.1"          # the Keras version whose format this writes and reads
_MAX_ARCHIVE_BYTES = 4 * 1024**3

# Keras arguments rnnkit does not implement, and the value at which they change nothing
_HARMLESS = {
    "activity_regularizer": None, "sparse": False, "ragged": False, "optional": False,
    "renorm": False, "renorm_clipping": None, "rms_scaling": False, "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None, "input_length": None,
}
_IGNORED = {"renorm_momentum"}        # meaningful only with a harmless value above set otherwise


# ---- rnnkit -> Keras --------------------------------------------------------------------------
def _camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


_WRAPPED = ("layer", "backward_layer")        # a wrapper's layers, nested in its config


def _keras_value(key, value):
    """A config value in Keras's spelling: initializers as ``keras.initializers`` objects,
    a wrapper's layers as Keras layer descriptions."""
    if key in _WRAPPED and isinstance(value, dict) and "class_name" in value:
        config = {k: _keras_value(k, v) for k, v in _without_rnnkit_only(value["config"]).items()
                  if k != "batch_input_shape"}
        return {"module": "keras.layers", "class_name": value["class_name"], "config": config,
                "registered_name": None}
    if key.endswith("initializer") and isinstance(value, dict) and "class_name" in value:
        return {"module": "keras.initializers", "class_name": _camel(value["class_name"]),
                "config": dict(value.get("config", {})), "registered_name": None}
    for suffix, module in (("_regularizer", "keras.regularizers"),
                           ("_constraint", "keras.constraints")):
        if key.endswith(suffix) and isinstance(value, dict):
            return {"module": module, "class_name": value["class_name"],
                    "config": dict(value.get("config", {})), "registered_name": None}
    return value


# rnnkit config entries Keras's class of that name does not take
_NOT_IN_KERAS = {"SpatialDropout1D": ("trainable",)}
# rnnkit's own arguments of Keras's classes, and the value at which they change nothing: left
# out of the file at that value, refused at any other (Keras has no zoneout)
_RNNKIT_ONLY = {"zoneout": 0.0, "cell_zoneout": 0.0}


def _without_rnnkit_only(config):
    """``config`` without the entries of ``_RNNKIT_ONLY`` (which must hold their neutral
    value: a ValueError naming the layer otherwise)."""
    for key, neutral in _RNNKIT_ONLY.items():
        if config.get(key, neutral) != neutral:
            raise ValueError(f"{config.get('name')}: {key}={config[key]!r} has no Keras "
                             f"equivalent (Keras's recurrent layers have no zoneout), so it "
                             f"cannot be written as .keras; save it as .rnnkit instead")
    return {k: v for k, v in config.items() if k not in _RNNKIT_ONLY}


def _keras_layer(layer, input_shape):
    spec = registry.serialize(layer)
    skip = ("batch_input_shape",) + _NOT_IN_KERAS.get(spec["class_name"], ())
    config = {k: _keras_value(k, v) for k, v in _without_rnnkit_only(spec["config"]).items()
              if k not in skip}
    out = {"module": "keras.layers", "class_name": spec["class_name"], "config": config,
           "registered_name": None}
    if input_shape is not None and spec["class_name"] != "InputLayer":
        out["build_config"] = {"input_shape": list(input_shape)}
    return out


def _keras_tensor(t):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": str(t.dtype),
                       "keras_history": [t.node.layer.name, 0, t.index]}}


def keras_config(model):
    """``config.json`` of ``model`` as Keras 3 writes it (a Sequential or a functional Model)."""
    if not model.built:
        raise ValueError(f"{model.name}: build the model before saving it as .keras")
    ours = registry.serialize(model)
    cfg = ours["config"]
    if ours["class_name"] == "Sequential":
        layers = [_keras_layer(lyr, lyr._build_input_shape) for lyr in model.layers]
        if getattr(model, "_input_layer", None) is not None:
            layers.insert(0, _keras_layer(model._input_layer, None))
        config = {"name": cfg["name"], "trainable": cfg["trainable"], "layers": layers}
        if cfg.get("build_input_shape") is not None:
            config["build_input_shape"] = cfg["build_input_shape"]
        build = {"input_shape": cfg.get("build_input_shape")}
    else:
        layers = []
        by_name = {lyr.name: lyr for lyr in model._layers}
        for spec in cfg["layers"]:
            layer = by_name[spec["name"]]
            entry = _keras_layer(layer, layer._build_input_shape)
            entry["name"] = spec["name"]
            entry["inbound_nodes"] = [_keras_call(model, layer, call)
                                      for call in _calls(model, layer)]
            layers.append(entry)

        def refs(tensors, as_list):
            r = [[t.node.layer.name, 0, t.index] for t in tensors]
            return r if as_list or len(r) != 1 else r[0]
        config = {"name": cfg["name"], "trainable": cfg["trainable"], "layers": layers,
                  "input_layers": refs(model.inputs, cfg.get("inputs_are_list", True)),
                  "output_layers": refs(model.outputs, cfg.get("outputs_are_list", True))}
        build = None
    sequential = ours["class_name"] == "Sequential"
    out = {"module": "keras" if sequential else "keras.src.models.functional",
           "class_name": "Sequential" if sequential else "Functional", "config": config,
           "registered_name": None if sequential else "Functional"}
    if build is not None:
        out["build_config"] = build
    return out


def _calls(model, layer):
    return [n for n in layer._inbound_nodes if n in model._node_set and not n.is_input]


def _keras_call(model, layer, node):
    if any(len(_calls(model, t.node.layer)) > 1 for t in node.inputs):
        raise ValueError(f"{model.name}: layer {layer.name} reads the output of a layer called "
                         "more than once; shared layers are not written as .keras yet")
    inputs, tensor_kwargs = node.unflatten(node.inputs)

    def conv(x):
        return [conv(v) for v in x] if isinstance(x, (list, tuple)) else _keras_tensor(x)
    kwargs = dict(node.kwargs)
    kwargs.update({k: conv(v) for k, v in tensor_kwargs.items()})
    return {"args": [conv(inputs)], "kwargs": kwargs}


def save_keras_model(model, path):
    """Write ``model`` as a Keras 3 ``.keras`` archive (atomically) that ``keras.saving.
    load_model`` opens: architecture, weights (no optimizer state)."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: a Keras model file must end in .keras")
    config = json.dumps(keras_config(model))
    meta = json.dumps({"keras_version": KERAS_VERSION,
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                       "saved_by": "rnnkit"})
    weights = keras_h5.keras_weights_bytes(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", meta)
        zf.writestr("config.json", config)
        zf.writestr(keras_h5.WEIGHTS_MEMBER, weights)
    atomic_write(path, [buf.getvalue()])


# ---- Keras -> rnnkit --------------------------------------------------------------------------
def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _dtype(value, where):
    if isinstance(value, dict):
        name = value.get("config", {}).get("name")
        if value.get("class_name") != "DTypePolicy" or not isinstance(name, str):
            raise FileFormatError(f"{where}: dtype policy {value.get('class_name')!r} "
                                  f"({name!r}) is not supported; rnnkit computes in one float "
                                  "type per layer")
        value = name
    if value not in (None, "float16", "float32", "float64"):
        raise FileFormatError(f"{where}: dtype {value!r} is not supported (float16, float32, "
                              "float64)")
    return value


def _initializer(value, where):
    if not isinstance(value, dict):
        return value
    name = value.get("class_name")
    snake = _snake(name) if isinstance(name, str) else name
    try:
        cls = type(initializers.get({"class_name": snake, "config": {}}))
    except (ValueError, TypeError):
        raise FileFormatError(f"{where}: initializer {name!r} is not one rnnkit has") from None
    allowed = inspect.signature(cls.__init__).parameters
    config = {}
    for k, v in dict(value.get("config") or {}).items():
        if k in allowed:
            config[k] = v
        elif v is not None:
            raise FileFormatError(f"{where}: initializer {name} argument {k}={v!r} is not "
                                  "supported")
    return {"class_name": snake, "config": config}


def _rnnkit_config(cls, config, where):
    """Keras's layer config as the arguments of rnnkit's ``cls``."""
    allowed = set(inspect.signature(cls.__init__).parameters)
    for base in cls.__mro__[1:]:
        if "__init__" in vars(base):
            allowed |= set(inspect.signature(base.__init__).parameters)
    weight_args = set(weight_options.argument_names(getattr(cls, "_regularizable", ())))
    out = {}
    for key, value in config.items():
        if key == "dtype":
            value = _dtype(value, where)
            if value is None:
                continue
        elif key.endswith("initializer"):
            value = _initializer(value, where)
        elif key in _WRAPPED and isinstance(value, dict):
            value = _layer_from_keras(value, f"{where}, {key}")
        elif key in weight_args:                  # regularizers and constraints
            if value is not None:
                out[key] = ({"class_name": value.get("class_name"),
                             "config": dict(value.get("config") or {})}
                            if isinstance(value, dict) else value)
            continue
        if key in allowed:
            out[key] = value
        elif key in _HARMLESS and value == _HARMLESS[key]:
            continue
        elif key in _IGNORED:
            continue
        else:
            raise FileFormatError(f"{where}: argument {key}={value!r} is not supported by "
                                  f"rnnkit's {cls.__name__}")
    return out


def _layer_from_keras(spec, where):
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise FileFormatError(f"{where}: not a layer description")
    name = spec["class_name"]
    if spec.get("registered_name") not in (None, name) or spec.get("module") not in (
            None, "keras.layers", "keras", "keras.src.models.functional"):
        raise FileFormatError(f"{where}: class {spec.get('registered_name') or name!r} from "
                              f"module {spec.get('module')!r} is a custom class; rnnkit builds "
                              "only its own layers and never runs code from a file")
    if name == "Lambda":
        raise FileFormatError(f"{where}: a Lambda layer holds Python code; rnnkit never runs "
                              "code from a file")
    try:
        cls = registry.get_layer_class(name)
    except ValueError:
        raise FileFormatError(f"{where}: layer class {name!r} is not one rnnkit has") from None
    where = f"{where} ({name} {spec['config'].get('name', '')!r})"
    layer = cls(**_rnnkit_config(cls, spec["config"], where))
    build = spec.get("build_config")
    if isinstance(build, dict) and build.get("input_shape") is not None and not layer.built:
        layer._maybe_build(tuple(build["input_shape"]))
    return layer


def _model_from_keras(config, where):
    """An rnnkit model from Keras's ``config.json``."""
    from_class = config.get("class_name")
    cfg = config.get("config")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
        raise FileFormatError(f"{where}: config.json describes no model layers")
    if from_class == "Sequential":
        seq = registry.get_layer_class("Sequential")
        model = seq(name=cfg.get("name"))
        for i, spec in enumerate(cfg["layers"]):
            model.add(_layer_from_keras(spec, f"{where}: layer {i}"))
        if not model.built and cfg.get("build_input_shape") is not None:
            model.build(tuple(cfg["build_input_shape"]))
        return model
    if from_class not in ("Functional", "Model"):
        raise FileFormatError(f"{where}: model class {from_class!r} is not supported "
                              "(Sequential, Functional); a subclassed model holds code")
    layers = []
    for i, spec in enumerate(cfg["layers"]):
        layer = _layer_from_keras(spec, f"{where}: layer {i}")
        calls = []
        for call in spec.get("inbound_nodes", []):
            args, kwargs = call.get("args", []), dict(call.get("kwargs", {}))
            if len(args) != 1:
                raise FileFormatError(f"{where}: layer {layer.name} is called with {len(args)} "
                                      "positional arguments; expected 1")
            tensor_kwargs = {k: _refs(v) for k, v in kwargs.items() if _is_tensor(v)}
            plain = {k: v for k, v in kwargs.items() if k not in tensor_kwargs
                     and not (k == "mask" and v is None)}
            calls.append({"inputs": _refs(args[0]), "tensor_kwargs": tensor_kwargs,
                          "kwargs": plain})
        layers.append({"class_name": "__built__", "name": spec.get("name", layer.name),
                       "config": {"layer": layer}, "inbound_nodes": calls})

    def nested(r):
        return [r] if r and isinstance(r[0], str) else list(r)
    ours = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True),
            "layers": layers, "input_layers": nested(cfg["input_layers"]),
            "output_layers": nested(cfg["output_layers"]),
            "inputs_are_list": not (cfg["input_layers"] and isinstance(cfg["input_layers"][0],
                                                                        str)),
            "outputs_are_list": not (cfg["output_layers"]
                                     and isinstance(cfg["output_layers"][0], str))}
    model_cls = registry.get_layer_class("Model")
    return model_cls.from_config(ours, custom_objects={"__built__": _Built})


class _Built:
    """``from_config`` of a layer already built from Keras's config: hands it back."""

    @staticmethod
    def from_config(config):
        return config["layer"]


def _is_tensor(v):
    if isinstance(v, list):
        return bool(v) and all(_is_tensor(x) for x in v)
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _refs(v):
    if isinstance(v, list):
        return [_refs(x) for x in v]
    if not _is_tensor(v):
        raise FileFormatError(f"expected a Keras tensor reference, got {str(v)[:80]}")
    return list(v["config"]["keras_history"])


def load_keras_model(path):
    """The rnnkit model a Keras 3 ``.keras`` file describes, with its weights.

    Raises:
        FileFormatError: not a readable .keras archive, a layer class or argument rnnkit does
            not have (named), or weights that do not fit.
    """
    path = os.fspath(path)
    try:
        if not os.path.isfile(path):
            raise FileFormatError(f"{path}: not a regular file")
        if os.path.getsize(path) > _MAX_ARCHIVE_BYTES:
            raise FileFormatError(f"{path}: larger than {_MAX_ARCHIVE_BYTES} bytes")
        with zipfile.ZipFile(path) as zf:
            text = keras_h5._read_member(zf, "config.json", keras_h5.MAX_JSON_BYTES, path)
        config = json.loads(text.decode("utf-8"))
    except FileFormatError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise FileFormatError(f"{path}: config.json is not valid JSON") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise FileFormatError(f"{path}: not a readable .keras archive ({e})") from None
    if not isinstance(config, dict):
        raise FileFormatError(f"{path}: config.json is not a JSON object")
    try:
        model = _model_from_keras(config, path)
    except FileFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        raise FileFormatError(f"{path}: cannot build the architecture: {e}") from None
    keras_h5.load_keras_weights(model, path)
    return model
