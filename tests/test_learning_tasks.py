"""Learning tests on real and toy tasks (seeded, seconds each): a many-to-one sentiment
classifier on real review sentences, and Keras's lstm_seq2seq learning to reverse sequences."""

import os

import numpy as np
import pytest

import rnnkit
from rnnkit.data import WordVocab, pad_sequences
from rnnkit.datasets import load_sentiment_sentences
from rnnkit.layers import LSTM, Bidirectional, Dense, Embedding, Input


def test_sentiment_classifier_beats_70_percent_validation_accuracy(shared_data):
    texts, labels = load_sentiment_sentences(os.path.join(shared_data,
                                                          "sentiment_labelled_sentences"))
    assert len(texts) == 3000 and labels.sum() == 1500
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    texts, labels = [texts[i] for i in order], labels[order]
    n_train = 2400
    vocab = WordVocab.from_text(" ".join(texts[:n_train]), max_tokens=4000)   # train only
    x = pad_sequences([vocab.encode(t) for t in texts], maxlen=32)             # pre-padding
    rnnkit.random.set_random_seed(0)
    model = rnnkit.Sequential([
        Input((32,), dtype="int32"),
        Embedding(len(vocab), 32, mask_zero=True),
        Bidirectional(LSTM(16)),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.005), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x[:n_train], labels[:n_train], batch_size=32, epochs=4, verbose=0, seed=0,
                     validation_data=(x[n_train:], labels[n_train:]))
    best = max(hist.history["val_accuracy"])
    print(f"sentiment val_accuracy per epoch {hist.history['val_accuracy']}")
    assert best > 0.70, f"validation accuracy {best:.3f}"


def _reverse_task(n, length, digits, rng):
    """One-hot (encoder input, decoder input, decoder target) for reversing digit strings.
    Tokens: 0..digits-1 the digits, `digits` = start, `digits + 1` = end."""
    V = digits + 2
    src = rng.integers(0, digits, (n, length))
    tgt = src[:, ::-1]
    dec_in = np.concatenate([np.full((n, 1), digits), tgt], axis=1)          # start + target
    dec_out = np.concatenate([tgt, np.full((n, 1), digits + 1)], axis=1)     # target + end
    eye = np.eye(V, dtype="float32")
    return eye[src], eye[dec_in], eye[dec_out], src


def test_lstm_seq2seq_port_learns_to_reverse_sequences():
    """Keras's character-level lstm_seq2seq example, unchanged but for the import, on a
    reversing task: training model, then the encoder and decoder inference models."""
    rng = np.random.default_rng(0)
    digits, length, latent_dim = 5, 4, 48
    num_tokens = digits + 2
    enc_x, dec_x, dec_y, src = _reverse_task(3000, length, digits, rng)
    rnnkit.random.set_random_seed(0)

    encoder_inputs = rnnkit.Input(shape=(None, num_tokens))
    encoder = LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = rnnkit.Input(shape=(None, num_tokens))
    decoder_lstm = LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = Dense(num_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = rnnkit.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit([enc_x[:2500], dec_x[:2500]], dec_y[:2500], batch_size=64, epochs=12, verbose=0,
              seed=0)

    encoder_model = rnnkit.Model(encoder_inputs, encoder_states)
    decoder_state_input_h = rnnkit.Input(shape=(latent_dim,))
    decoder_state_input_c = rnnkit.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_outputs, state_h, state_c = decoder_lstm(decoder_inputs,
                                                     initial_state=decoder_states_inputs)
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = rnnkit.Model([decoder_inputs] + decoder_states_inputs,
                                 [decoder_outputs, state_h, state_c])

    def decode_sequence(input_seq):
        states_value = encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
        target_seq[0, 0, digits] = 1.0                          # start token
        decoded = []
        while len(decoded) <= length:
            output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
            token = int(np.argmax(output_tokens[0, -1, :]))
            if token == digits + 1:
                break
            decoded.append(token)
            target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
            target_seq[0, 0, token] = 1.0
            states_value = [h, c]
        return decoded

    held_out = range(2500, 2600)
    exact = np.mean([decode_sequence(enc_x[i:i + 1]) == src[i, ::-1].tolist() for i in held_out])
    print(f"reverse task held-out exact match {exact:.2f}")
    assert exact >= 0.9, f"held-out exact match {exact:.2f}"
