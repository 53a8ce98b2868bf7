"""Layers with Keras names, arguments and weight layouts, each with a hand-written backward."""

from .activation import Activation
from .activation_layers import ReLU, Softmax
from .additive_attention import AdditiveAttention
from .attention import Attention
from .base import Layer, clear_session
from .batch_normalization import BatchNormalization
from .bidirectional import Bidirectional
from .conv1d import Conv1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .input_layer import Input, InputLayer
from .lstm import LSTM
from .masking import Masking
from .pooling1d import GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .multi_head_attention import MultiHeadAttention
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .repeat_vector import RepeatVector
from .reshaping import Permute, Reshape
from .simple_rnn import SimpleRNN
from .spatial_dropout import SpatialDropout1D
from .streaming import Streamer
from .text_lookup import StringLookup, TextVectorization
from .time_distributed import TimeDistributed
from .weight import Weight

__all__ = [
    "Activation", "AdditiveAttention", "Add", "Attention", "Average", "BatchNormalization",
    "Bidirectional", "Concatenate", "Dense", "Dropout",
    "Embedding", "Flatten", "GRU", "Input", "InputLayer", "LSTM", "Layer", "Masking", "Maximum",
    "Minimum", "Multiply", "RepeatVector", "SimpleRNN", "Streamer", "Subtract", "TimeDistributed",
    "Weight", "clear_session",
    # the layers RNN models use around the recurrence (Keras names)
    "Conv1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPooling1D", "Permute", "ReLU",
    "Reshape", "Softmax", "SpatialDropout1D", "StringLookup", "TextVectorization",
    "MultiHeadAttention",
]

# ---- cells and the loop (Keras's RNN(cell)) -------------------------------------------------
from .cell import Cell, DenseCell  # noqa: E402
from .gru_cell import GRUCell  # noqa: E402
from .lstm_cell import LSTMCell  # noqa: E402
from .rnn import RNN  # noqa: E402
from .simple_rnn_cell import SimpleRNNCell  # noqa: E402
from .stacked_cells import StackedRNNCells  # noqa: E402

__all__ += ["Cell", "DenseCell", "GRUCell", "LSTMCell", "RNN", "SimpleRNNCell",
            "StackedRNNCells"]

# ---- minGRU / minLSTM, LayerNorm LSTM, LayerNormalization, residual blocks ------------------
from .layer_normalization import LayerNormalization  # noqa: E402
from .ln_lstm import LayerNormLSTM  # noqa: E402
from .min_rnn import MinGRU, MinLSTM  # noqa: E402
from .residual import ResidualBlock  # noqa: E402

__all__ += ["LayerNormLSTM", "LayerNormalization", "MinGRU", "MinLSTM", "ResidualBlock"]
