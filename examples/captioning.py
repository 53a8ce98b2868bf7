"""Image captioning in miniature: an image encoding sets the initial state of a character decoder.

The CNN + RNN pairing of captioning models (Vinyals et al., "Show and Tell", 2015), shrunk to
fit a 2-core CPU: the "CNN" is a dense layer over the 64 pixels of scikit-learn's 8x8
handwritten digits (1,797 images, bundled with scikit-learn, extra ``captioning``), and the
caption of an image is the digit's name spelled out, one character at a time ("seven").

Model (one-to-many, functional API)::

    image (B, 64) -> Dense(U, tanh) -> h0 (B, U)      Dense(U, tanh) -> c0 (B, U)
    [start] + caption chars (B, T) -> Embedding(V, 16, mask_zero)
        -> LSTM(U, return_sequences, initial_state=[h0, c0])    (teacher forcing)
        -> TimeDistributed(Dense(V, softmax))  p(next char) (B, T, V)

The image enters only through the initial state: everything the decoder knows about the
picture is in (h0, c0). At test time an encoder model maps the image to (h0, c0) and an
inference decoder built from the same trained layers runs one character at a time from
[start]; ``rnnkit.decoding.greedy_decode`` picks the most likely character until [end].

**Metric:** exact caption match on a stratified 25 % held-out split (the generated string
equals the digit's name). **Baseline:** "classifier + lookup": multinomial logistic regression
on the same pixels (scikit-learn, default regularisation), then the name of the predicted digit.
The lookup always spells correctly, so the baseline is a pure classifier; the captioner must
both recognise the digit and spell its name.

Measured (full run, seed 0): 96.9 % exact match (436/450) against 96.0 % for the baseline, and
no generated caption that is not a digit name; with ``--seed 1`` (another split) 98.7 % against
97.3 %. The edge is small and comes from the encoder, not from recurrence: the decoder learns to
spell the ten names perfectly, every error is a misrecognised digit, and the captioner's image
encoder has a tanh layer where logistic regression is linear.

    python examples/captioning.py              # full run, well under a minute of training
    python examples/captioning.py --quick      # a seconds-long smoke run

Writes ``model.rnnkit`` (the teacher-forced model), ``captions.png`` (held-out images with
their generated captions, red when wrong) and ``metrics.json`` into ``--out``.
"""

import _common  # first: pins BLAS to one thread

import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from _common import Timer, finish_args, parser, pyplot, report, run_main, save_figure  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.data import pad_sequences  # noqa: E402
from rnnkit.datasets.captions import DIGIT_NAMES, load_digit_captions  # noqa: E402
from rnnkit.decoding import greedy_decode, model_step  # noqa: E402

PAD, START, END = 0, 1, 2
CHARS = sorted(set("".join(DIGIT_NAMES)))            # the 15 letters of the ten names
VOCAB = ["", "[start]", "[end]"] + CHARS             # id -> token
CHAR_ID = {c: i for i, c in enumerate(VOCAB) if i > END}
MAX_LEN = max(map(len, DIGIT_NAMES)) + 1             # the longest caption plus [end]


def encode(captions):
    """Decoder inputs ``[start] + chars`` and targets ``chars + [end]``, zero-padded (N, 6)."""
    ids = [[CHAR_ID[c] for c in text] for text in captions]
    dec_in = pad_sequences([[START, *s] for s in ids], maxlen=MAX_LEN, padding="post")
    dec_out = pad_sequences([[*s, END] for s in ids], maxlen=MAX_LEN, padding="post")
    return dec_in, dec_out


stratified_split = _common.stratified_split


# ---- the model ----------------------------------------------------------------------------------
def build(units, embed_dim=16):
    """The teacher-forced captioner, the image encoder and the inference decoder (shared layers)."""
    L = {
        "init_h": layers.Dense(units, activation="tanh", name="init_h"),
        "init_c": layers.Dense(units, activation="tanh", name="init_c"),
        "embedding": layers.Embedding(len(VOCAB), embed_dim, mask_zero=True, name="chars"),
        "decoder": layers.LSTM(units, return_sequences=True, return_state=True, name="decoder"),
        "head": layers.TimeDistributed(layers.Dense(len(VOCAB), activation="softmax"),
                                       name="next_char"),
    }
    image = rnnkit.Input((64,), name="image")
    h0, c0 = L["init_h"](image), L["init_c"](image)                        # (B, U) each
    chars_in = rnnkit.Input((None,), dtype="int32", name="caption_in")
    seq, _, _ = L["decoder"](L["embedding"](chars_in), initial_state=[h0, c0])   # (B, T, U)
    model = rnnkit.Model([image, chars_in], L["head"](seq), name="captioner")
    encoder = rnnkit.Model(image, [h0, c0], name="image_encoder")

    token = rnnkit.Input((1,), dtype="int32", name="token")
    h_in, c_in = rnnkit.Input((units,), name="h"), rnnkit.Input((units,), name="c")
    out, h, c = L["decoder"](L["embedding"](token), initial_state=[h_in, c_in])
    decoder = rnnkit.Model([token, h_in, c_in], [L["head"](out), h, c], name="char_decoder")
    return model, encoder, decoder


def caption_images(images, encoder, decoder):
    """Greedy captions of (N, 64) images: the encoder gives (h0, c0), the decoder spells."""
    step = model_step(decoder)
    h0, c0 = encoder.forward(images)
    captions = []
    for i in range(len(images)):
        ids, _ = greedy_decode(step, [h0[i:i + 1], c0[i:i + 1]], START, END, MAX_LEN)
        captions.append("".join(VOCAB[t] if t > END else "?" for t in ids))
    return captions


def logistic_regression_lookup(x, y, x_test, seed):
    """The baseline: multinomial logistic regression on the pixels, then the predicted name."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=5000, random_state=seed).fit(x, y)
    return [DIGIT_NAMES[k] for k in clf.predict(x_test)]


# ---- plot ---------------------------------------------------------------------------------------
def plot(images, truth, generated, path, n=40):
    """A grid of held-out images titled with their generated caption, every error included."""
    plt = pyplot()
    if plt is None:
        return
    wrong = [i for i in range(len(truth)) if generated[i] != truth[i]]
    right = [i for i in range(len(truth)) if generated[i] == truth[i]]
    shown = sorted((wrong[:n // 4] + right)[:n])
    cols = 10
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        bad = generated[i] != truth[i]
        title = f"{generated[i] or '(empty)'}\n(is {truth[i]})" if bad else generated[i]
        ax.set_title(title, color="red" if bad else "black", fontsize=10)
    n_wrong_shown = min(len(wrong), n // 4)
    fig.suptitle(f"held-out digits captioned by the LSTM: {len(right)}/{len(truth)} exact; "
                 f"red: wrong, with the true name ({n_wrong_shown} of the {len(wrong)} "
                 "errors shown)")
    save_figure(fig, path)


# ---- main ---------------------------------------------------------------------------------------
def main():
    p = parser("captioning", "Caption 8x8 digit images with their spelled-out names: an image "
               "encoding sets an LSTM decoder's initial state; greedy decoding; beside "
               "logistic regression + lookup.")
    p.add_argument("--units", type=int, default=None, help="LSTM units (default 64; 16 --quick)")
    args = finish_args(p, p.parse_args(), full_epochs=40, quick_epochs=2)
    args.units = args.units or (16 if args.quick else 64)
    rng = np.random.default_rng(args.seed)

    # 1. data: a stratified 25 % held out
    images, captions, labels = load_digit_captions()
    train, test = stratified_split(labels, 0.25, rng)
    if args.quick:
        train, test = train[:300], test[:60]
    x, x_test = images[train], images[test]
    dec_in, dec_out = encode([captions[i] for i in train])
    truth = [captions[i] for i in test]
    print(f"{len(images)} images of 8x8 pixels: {len(train)} for training, {len(test)} held "
          f"out; captions of {min(map(len, DIGIT_NAMES))}-{MAX_LEN - 1} characters over "
          f"{len(CHARS)} letters")

    # 2. the captioner, trained with teacher forcing
    rnnkit.random.set_random_seed(args.seed)
    model, encoder, decoder = build(args.units)
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3, clipnorm=5.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if not args.quick:
        model.summary()
    timer = Timer()
    model.fit([x, dec_in], dec_out, batch_size=32, epochs=args.epochs, verbose=1,
              seed=args.seed)
    train_seconds = timer.seconds

    # 3. greedy captions of the held-out images, and the classifier + lookup baseline
    generated = caption_images(x_test, encoder, decoder)
    baseline = logistic_regression_lookup(x, labels[train], x_test, args.seed)
    exact = float(np.mean([g == t for g, t in zip(generated, truth)]))
    exact_base = float(np.mean([b == t for b, t in zip(baseline, truth)]))
    misspelt = sorted({g for g in generated if g not in DIGIT_NAMES})
    print(f"generated captions that are not a digit name: {misspelt or 'none'}")

    # 4. model, plot, report
    model.save(args.out / "model.rnnkit")
    print(f"wrote {args.out / 'model.rnnkit'}")
    plot(x_test, truth, generated, args.out / "captions.png")
    report(args.out, "captioning", "exact caption match", exact, exact_base,
           "logistic regression on pixels + name lookup", train_seconds=train_seconds,
           data="sklearn.datasets.load_digits", split="stratified 25% held out",
           n_test=len(test), n_misspelt=sum(g not in DIGIT_NAMES for g in generated),
           epochs=args.epochs, units=args.units)


if __name__ == "__main__":
    run_main(main)
