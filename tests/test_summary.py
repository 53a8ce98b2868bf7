"""model.summary(): the tf.keras 2 layout, line by line (lines compared after rstrip).

The three models of the Keras guide "Working with RNNs" are printed with the guide's numbers;
every parameter count asserted here comes from the Keras formulas written next to it:
  Embedding(V, D): V*D;  Dense(U) on I: I*U + U;  SimpleRNN(H) on I: I*H + H*H + H;
  LSTM(H) on I: 4*(I*H + H*H + H);  GRU(H) on I (reset_after): 3*(I*H + H*H + 2*H).
"""

import pytest

from rnnkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnkit.layers.input_layer import Input
from rnnkit.layers.merge import Add
from rnnkit.models import Model, Sequential, print_summary
from test_functional import Affine, MaskedMean, TwoOut


def summary_lines(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def assert_summary(model, expected, **kwargs):
    got = [line.rstrip() for line in summary_lines(model, **kwargs)]
    want = expected.strip("\n").split("\n")
    assert got == want, "\n".join(["got:"] + got + ["want:"] + want)


def real_layers():
    """Embedding, LSTM, GRU, SimpleRNN, Dense."""
    return Embedding, LSTM, GRU, SimpleRNN, Dense


# ---- the Keras guide -----------------------------------------------------------------------------
GUIDE_LSTM = """
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
embedding (Embedding)        (None, None, 64)          64000
_________________________________________________________________
lstm (LSTM)                  (None, 128)               98816
_________________________________________________________________
dense (Dense)                (None, 10)                1290
=================================================================
Total params: 164,106
Trainable params: 164,106
Non-trainable params: 0
_________________________________________________________________
"""


def test_guide_embedding_lstm_dense():
    Embedding, LSTM, _, _, Dense = real_layers()
    model = Sequential()
    model.add(Embedding(input_dim=1000, output_dim=64))
    model.add(LSTM(128))
    model.add(Dense(10))
    assert_summary(model, GUIDE_LSTM)
    # 1000*64 = 64000; 4*(64*128 + 128*128 + 128) = 98816; 128*10 + 10 = 1290
    assert [layer.count_params() for layer in model.layers] == [64000, 98816, 1290]
    # tf.keras pads every field to its column: the lines are exactly 65 characters wide
    assert {len(line) for line in summary_lines(model)[1:5]} == {65}


GUIDE_GRU = """
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
embedding (Embedding)        (None, None, 64)          64000
_________________________________________________________________
gru (GRU)                    (None, None, 256)         247296
_________________________________________________________________
simple_rnn (SimpleRNN)       (None, 128)               49280
_________________________________________________________________
dense (Dense)                (None, 10)                1290
=================================================================
Total params: 361,866
Trainable params: 361,866
Non-trainable params: 0
_________________________________________________________________
"""


def test_guide_stacked_gru_simple_rnn():
    # 3*(64*256 + 256*256 + 2*256) = 247296; 256*128 + 128*128 + 128 = 49280
    Embedding, _, GRU, SimpleRNN, Dense = real_layers()
    model = Sequential()
    model.add(Embedding(input_dim=1000, output_dim=64))
    model.add(GRU(256, return_sequences=True))
    model.add(SimpleRNN(128))
    model.add(Dense(10))
    assert_summary(model, GUIDE_GRU)


def test_small_stacked_gru_simple_rnn_counts():
    # 1000*64; 3*(64*64 + 64*64 + 2*64) = 24960; 64*128 + 128*128 + 128 = 24704; 128*10 + 10
    Embedding, _, GRU, SimpleRNN, Dense = real_layers()
    model = Sequential([Embedding(1000, 64), GRU(64, return_sequences=True), SimpleRNN(128),
                        Dense(10)])
    assert [layer.count_params() for layer in model.layers] == [64000, 24960, 24704, 1290]
    assert summary_lines(model)[-4].rstrip() == "Total params: 114,954"


GUIDE_ENCODER_DECODER = """
Model: "functional"
__________________________________________________________________________________________________
Layer (type)                    Output Shape         Param #     Connected to
==================================================================================================
input_layer (InputLayer)        [(None, None)]       0
__________________________________________________________________________________________________
input_layer_1 (InputLayer)      [(None, None)]       0
__________________________________________________________________________________________________
embedding (Embedding)           (None, None, 64)     64000       input_layer[0][0]
__________________________________________________________________________________________________
embedding_1 (Embedding)         (None, None, 64)     128000      input_layer_1[0][0]
__________________________________________________________________________________________________
encoder (LSTM)                  [(None, 64), (None,  33024       embedding[0][0]
__________________________________________________________________________________________________
decoder (LSTM)                  (None, 64)           33024       embedding_1[0][0]
                                                                 encoder[0][1]
                                                                 encoder[0][2]
__________________________________________________________________________________________________
dense (Dense)                   (None, 10)           650         decoder[0][0]
==================================================================================================
Total params: 258,698
Trainable params: 258,698
Non-trainable params: 0
__________________________________________________________________________________________________
"""


def test_guide_encoder_decoder():
    # 1000*64 = 64000; 2000*64 = 128000; 4*(64*64 + 64*64 + 64) = 33024; 64*10 + 10 = 650
    Embedding, LSTM, _, _, Dense = real_layers()
    encoder_input = Input(shape=(None,))
    encoder_embedded = Embedding(input_dim=1000, output_dim=64)(encoder_input)
    output, state_h, state_c = LSTM(64, return_state=True, name="encoder")(encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = Input(shape=(None,))
    decoder_embedded = Embedding(input_dim=2000, output_dim=64)(decoder_input)
    decoder_output = LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
    output = Dense(10)(decoder_output)
    model = Model([encoder_input, decoder_input], output)
    assert_summary(model, GUIDE_ENCODER_DECODER)


# ---- the layout rules, with small layers ---------------------------------------------------------
CHAIN = """
Model: "functional"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
input_layer (InputLayer)     [(None, 4)]               0
_________________________________________________________________
affine (Affine)              (None, 3)                 15
_________________________________________________________________
affine_1 (Affine)            (None, 2)                 8
=================================================================
Total params: 23
Trainable params: 15
Non-trainable params: 8
_________________________________________________________________
"""


def test_a_functional_chain_prints_like_a_sequential():
    x = Input((4,))
    first, last = Affine(3), Affine(2)
    model = Model(x, last(first(x)))
    last.trainable = False
    assert_summary(model, CHAIN)


GRAPH = """
Model: "functional"
__________________________________________________________________________________________________
Layer (type)                    Output Shape         Param #     Connected to
==================================================================================================
input_layer_1 (InputLayer)      [(None, None, 2)]    0
__________________________________________________________________________________________________
pre (Affine)                    multiple             6           input_layer_1[0][0]
                                                                 input_layer_2[0][0]
__________________________________________________________________________________________________
input_layer_2 (InputLayer)      [(None, 2)]          0
__________________________________________________________________________________________________
masked_mean (MaskedMean)        (None, 2)            0           pre[1][0]
__________________________________________________________________________________________________
add (Add)                       (None, 2)            0           masked_mean[0][0]
                                                                 pre[2][0]
==================================================================================================
Total params: 6
Trainable params: 6
Non-trainable params: 0
__________________________________________________________________________________________________
"""


def test_a_graph_shows_connections_node_indices_and_multiple_shapes():
    # Keras's order: by depth from the outputs, then by traversal order, so "pre" (depth 2,
    # seen before input_layer_2 when walking back from the output) comes before that input.
    pre = Affine(2, name="pre")
    pre(Input((2,)))                       # node 0 of "pre" belongs to no model below
    seq_in, vec_in = Input((None, 2)), Input((2,))
    y = Add()([MaskedMean()(pre(seq_in)), pre(vec_in)])
    model = Model([seq_in, vec_in], y)
    assert_summary(model, GRAPH)


def test_multi_output_shapes_and_custom_widths():
    x = Input((3,))
    h, s = TwoOut(2, name="two")(x)
    model = Model(x, [h, s])
    lines = summary_lines(model, line_length=40, positions=[20, 36, 40])
    assert lines[1] == "_" * 40
    assert lines[2] == "Layer (type)        Output Shape    Para"
    # the shape is cut at its column and its last character made a space; 3*2 + 2*2 + 2*2 = 14
    assert lines[6].rstrip() == "two (TwoOut)        [(None, 2), (No 14"


def test_print_summary_prints_to_stdout(capsys):
    model = Sequential([Input((3,)), Affine(2)], name="tiny")
    print_summary(model)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'Model: "tiny"'
    assert out[4].rstrip() == "affine (Affine)              (None, 2)                 8"


def test_unbuilt_sequential_says_how_to_build():
    model = Sequential([Affine(2)])
    with pytest.raises(ValueError, match=r"calling build\(input_shape\)"):
        model.summary()
    model.build((None, 5))
    assert summary_lines(model)[4].split() == ["affine", "(Affine)", "(None,", "2)", "12"]


def test_counts_use_thousands_separators():
    model = Sequential([Input((999,)), Affine(1000)])      # 999*1000 + 1000 = 1,000,000
    lines = [line.rstrip() for line in summary_lines(model)]
    assert lines[-4:-1] == ["Total params: 1,000,000", "Trainable params: 1,000,000",
                            "Non-trainable params: 0"]
    assert model.count_params() == 1_000_000
