"""Layer names as Keras gives them: ``lstm``, ``lstm_1``, ... per class, until ``clear_session``.

>>> clear_session()
>>> snake_case("SimpleRNN"), unique_name("dense"), unique_name("dense")
('simple_rnn', 'dense', 'dense_1')
>>> clear_session(); unique_name("dense")
'dense'
"""

import re

_name_counts = {}       # prefix -> how many names with it were given since clear_session()


def clear_session():
    """Forget the layer names given so far, so that the next LSTM is called "lstm" again."""
    _name_counts.clear()


def snake_case(name):
    """Keras's ``to_snake_case``: ``SimpleRNN`` -> ``simple_rnn``, ``Conv1D`` -> ``conv1d``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix):
    """Keras naming: the first is ``prefix``, then ``prefix_1``, ``prefix_2``, ..."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"
