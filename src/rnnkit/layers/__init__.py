"""Layers with Keras names, arguments and weight layouts, each with a hand-written backward."""

from .activation import Activation
from .additive_attention import AdditiveAttention
from .attention import Attention
from .base import Layer, clear_session
from .bidirectional import Bidirectional
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .input_layer import Input, InputLayer
from .lstm import LSTM
from .masking import Masking
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .repeat_vector import RepeatVector
from .simple_rnn import SimpleRNN
from .streaming import Streamer
from .time_distributed import TimeDistributed
from .weight import Weight

__all__ = [
    "Activation", "AdditiveAttention", "Add", "Attention", "Average", "Bidirectional", "Concatenate", "Dense", "Dropout",
    "Embedding", "Flatten", "GRU", "Input", "InputLayer", "LSTM", "Layer", "Masking", "Maximum",
    "Minimum", "Multiply", "RepeatVector", "SimpleRNN", "Streamer", "Subtract", "TimeDistributed",
    "Weight", "clear_session",
]

# ---- minGRU / minLSTM, LayerNorm LSTM, LayerNormalization (issue 16) ----
from .min_rnn import MinGRU, MinLSTM  # noqa: E402

__all__ += ["MinGRU", "MinLSTM"]
from .layer_normalization import LayerNormalization  # noqa: E402

__all__ += ["LayerNormalization"]
from .ln_lstm import LayerNormLSTM  # noqa: E402

__all__ += ["LayerNormLSTM"]
from .residual import ResidualBlock  # noqa: E402

__all__ += ["ResidualBlock"]
