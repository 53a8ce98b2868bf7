"""Forecasting yearly sunspot numbers with a GRU (many-to-one, then several years ahead).

The data: the yearly mean sunspot number 1700-2008 (309 values) that ships inside
``statsmodels`` (``pip install 'rnnkit[timeseries]'``; ``--data`` takes a ``sunspots.csv`` of
the same two columns instead). The series rises and falls with the ~11-year solar cycle, with
peaks between 50 and 190.

The split: the last 20 % of the years (1947-2008) are held out in time order: no held-out year
is a training target, and the scaling (mean and standard deviation) comes from the training
years only. The last 15 % of the training years (1910-1946) are a validation slice for early
stopping. A held-out forecast reads the real values of the years before its origin, as every
baseline does.

The main task: forecast next year's value from the past ``--window`` years (24: two cycles)::

    window (B, 24, 1) -> GRU(32) -> (B, 32) -> Dense(1) -> next year's value (B, 1), scaled

The metric is the mean absolute error (MAE, in sunspot numbers) over the held-out years, next to
baselines scored on exactly the same years:

* seasonal naive (the main baseline): y_hat(t) = y(t - 11), one solar cycle earlier;
* naive (persistence): y_hat(t) = y(t - 1);
* linear autoregression on the same 24-year window (least squares on the training and
  validation windows, so it sees more data than the GRU trains on): a stronger non-recurrent
  baseline, reported beside the others.

Then ``--horizon`` (11) years ahead from every held-out origin year whose 11 targets are all
held out (52 origins), scored on the same (origin, year) pairs:

* the one-step GRU fed its own forecasts back as the newest values;
* a many-to-many encoder-decoder trained on the 11 next values directly::

    window (B, 24, 1) -> GRU(32) -> RepeatVector(11) -> GRU(32, seq) -> TimeDistributed(Dense(1))
                      -> the next 11 years (B, 11, 1)

* the linear AR fed its own forecasts, the seasonal naive y(t-11) (known up to 11 years
  ahead) and persistence (the last known value for every year ahead).

With about 190 training windows the encoder-decoder overfits and loses to the seasonal naive
forecast (also with 16 units, or a plain Dense(11) head, or a lower learning rate: 30-37); the
recursive GRU had the lowest MAE at every horizon in the full run (seed 0; see the plot).

    python examples/timeseries.py            # full run (seconds: early stopping ends it)
    python examples/timeseries.py --quick    # a seconds-long smoke run

Writes ``forecast.png`` (the whole series; the held-out years with the one-step forecasts; MAE
by years ahead), ``model.rnnkit`` (one-step), ``model_horizon.rnnkit`` (encoder-decoder) and
``metrics.json`` (``train_seconds`` counts both models) to ``--out`` (runs/timeseries).
"""

# _common first: it pins BLAS to one thread before NumPy is imported
from _common import Timer, finish_args, parser, pyplot, report, run_main, save_figure

import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.data import timeseries_dataset_from_array  # noqa: E402
from rnnkit.datasets.series import load_sunspots  # noqa: E402

CYCLE = 11                       # years: the seasonal-naive lag


def split_points(n, test_fraction=0.2, val_fraction=0.15):
    """``(val_start, test_start)``: target indices where validation and the held-out years begin."""
    test_start = n - int(round(test_fraction * n))
    val_start = test_start - int(round(val_fraction * test_start))
    return val_start, test_start


def windows(scaled, window, first_target, end_target):
    """Windows ``scaled[t - window:t]`` (N, window, 1) and targets ``scaled[t]`` (N,) for
    t in [first_target, end_target)."""
    first_target = max(first_target, window)
    ds = timeseries_dataset_from_array(scaled[:-1, None], scaled[window:], window,
                                       start_index=first_target - window,
                                       end_index=end_target - 1, batch_size=None)
    x, y = ds.arrays()
    targets = np.arange(first_target, first_target + len(y))
    assert np.array_equal(y, scaled[targets]), "windows and targets are misaligned"
    return x.astype(np.float32), y.astype(np.float32), targets


def horizon_windows(scaled, window, horizon, first_origin, end_target):
    """Windows ``scaled[t - window:t]`` (N, window, 1) and the next ``horizon`` values
    ``scaled[t:t + horizon]`` (N, horizon, 1) for every origin t >= first_origin whose targets
    all lie before end_target; also the origins (N,)."""
    origins = np.arange(max(first_origin, window), end_target - horizon + 1)
    x = scaled[origins[:, None] + np.arange(-window, 0)][..., None]
    y = scaled[origins[:, None] + np.arange(horizon)][..., None]
    return x.astype(np.float32), y.astype(np.float32), origins


def linear_ar(x_train, y_train, ridge=1e-3):
    """A least-squares linear autoregression on the windows (with an intercept), fitted to
    ``(N, window, 1) -> (N,)``; returns a function of windows ``(M, window, 1) -> (M,)``."""
    def design(x):
        return np.hstack([x.reshape(len(x), -1), np.ones((len(x), 1))]).astype(np.float64)
    a = design(x_train)
    coef = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y_train)
    return lambda x: design(x) @ coef


def recursive(predict_next, x, horizon):
    """Forecast ``horizon`` steps by feeding each one-step forecast back as the newest value:
    windows (N, window, 1) -> (N, horizon)."""
    steps = []
    for _ in range(horizon):
        y = np.asarray(predict_next(x), dtype=np.float32).reshape(len(x))      # (N,)
        steps.append(y)
        x = np.concatenate([x[:, 1:], y[:, None, None]], axis=1)             # slide by one
    return np.stack(steps, axis=1)


def build_model(window, units):
    """Many-to-one: (B, window, 1) -> GRU -> (B, units) -> Dense(1) -> (B, 1)."""
    model = rnnkit.Sequential([layers.Input((window, 1)), layers.GRU(units), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3), loss="mse")
    return model


def build_horizon_model(window, units, horizon):
    """Many-to-many encoder-decoder: (B, window, 1) -> GRU -> (B, units) -> RepeatVector
    -> (B, horizon, units) -> GRU(seq) -> TimeDistributed(Dense(1)) -> (B, horizon, 1)."""
    model = rnnkit.Sequential([
        layers.Input((window, 1)), layers.GRU(units), layers.RepeatVector(horizon),
        layers.GRU(units, return_sequences=True), layers.TimeDistributed(layers.Dense(1))])
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3), loss="mse")
    return model


def fit(model, train, val, args):
    """Fit with early stopping on the validation windows (best epoch kept); returns
    ``(seconds, best epoch, epochs run)``."""
    stop = rnnkit.callbacks.EarlyStopping(monitor="val_loss", patience=40,
                                          restore_best_weights=True)
    timer = Timer()
    history = model.fit(*train, batch_size=16, epochs=args.epochs, validation_data=val,
                        callbacks=[stop], verbose=1, seed=args.seed)
    return timer.seconds, int(stop.best_epoch) + 1, len(history.history["loss"])


def plot(years, values, test_targets, forecast, seasonal, maes, steps, path):
    """The whole series; the held-out years with one-step forecasts; MAE by years ahead."""
    plt = pyplot()
    if plt is None:
        return
    t0 = test_targets[0]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 10),
                                              gridspec_kw=dict(height_ratios=(1, 1.4, 1)))
    top.plot(years, values, color="0.3", lw=1)
    top.axvspan(years[t0] - 0.5, years[-1] + 0.5, color="tab:orange", alpha=0.12,
                label="held out (last 20 %)")
    top.set(title="yearly mean sunspot number, 1700-2008", ylabel="sunspots")
    top.legend(loc="upper left")
    ty = years[test_targets]
    middle.plot(ty, values[test_targets], color="black", lw=2, label="actual")
    middle.plot(ty, forecast, color="tab:blue", marker="o", ms=3,
                label=f"GRU, next year from the past 24 (MAE {maes['rnn']:.1f})")
    middle.plot(ty, seasonal, color="tab:red", ls="--",
                label=f"seasonal naive y(t-11) (MAE {maes['seasonal']:.1f})")
    middle.set(title="held-out years: one-step-ahead forecasts", xlabel="year",
               ylabel="sunspots")
    middle.legend(loc="upper right", fontsize=9)
    ahead = np.arange(1, len(steps["seasonal"]) + 1)
    lines = (("rnn_recursive", "GRU, fed its own forecasts", dict(color="tab:blue", marker="o")),
             ("rnn_seq2seq", "GRU encoder-decoder (many-to-many)",
              dict(color="tab:purple", marker="s", ms=4)),
             ("linear_ar_recursive", "linear AR, fed its own forecasts", dict(color="tab:green")),
             ("seasonal", "seasonal naive y(t-11)", dict(color="tab:red", ls="--")),
             ("naive", "persistence y(t-1)", dict(color="0.5", ls=":")))
    for name, label, style in lines:
        bottom.plot(ahead, steps[name], label=f"{label} (mean {np.mean(steps[name]):.1f})",
                    **style)
    bottom.set(title=f"held out: forecasting 1..{len(ahead)} years ahead from each year",
               xlabel="years ahead", ylabel="MAE", xticks=ahead,
               ylim=(0, 1.9 * max(max(v) for k, v in steps.items() if k != "naive")))
    bottom.legend(loc="upper center", fontsize=8, ncol=2)
    save_figure(fig, path)


def main():
    p = parser("timeseries", "Forecast yearly sunspot numbers with a GRU; MAE vs seasonal naive.",
               data_help="a sunspots.csv with columns YEAR,SUNACTIVITY (default: the one in "
                         "the installed statsmodels)")
    p.add_argument("--window", type=int, default=24, help="years per input window (default 24)")
    p.add_argument("--horizon", type=int, default=CYCLE,
                   help="years forecast at once by the many-to-many model (default 11, at most)")
    p.add_argument("--units", type=int, default=32, help="GRU units (default 32)")
    args = finish_args(p, p.parse_args(), full_epochs=300, quick_epochs=2)
    if not CYCLE < args.window < 100:
        p.error(f"--window must be in {CYCLE + 1}..99")
    if not 1 <= args.horizon <= CYCLE:
        p.error(f"--horizon must be in 1..{CYCLE} (the seasonal-naive forecast needs it)")
    rnnkit.random.set_random_seed(args.seed)

    # 1. the data: chronological split, scaling from the training years only
    years, values = load_sunspots(args.data)
    n = len(values)
    val_start, test_start = split_points(n)
    mean, std = float(values[:val_start].mean()), float(values[:val_start].std())
    scaled = (values - mean) / std
    x_train, y_train, _ = windows(scaled, args.window, args.window, val_start)
    x_val, y_val, _ = windows(scaled, args.window, val_start, test_start)
    x_test, y_test, test_targets = windows(scaled, args.window, test_start, n)
    if args.quick:                               # a smoke run: a slice of the training windows
        x_train, y_train = x_train[-60:], y_train[-60:]
    print(f"sunspots {years[0]}-{years[-1]}: train targets {years[args.window]}-"
          f"{years[val_start - 1]} ({len(y_train)} windows), validation {years[val_start]}-"
          f"{years[test_start - 1]} ({len(y_val)}), held out {years[test_start]}-{years[-1]} "
          f"({len(y_test)})")

    # 2. many-to-one: next year's value; early stopping on the validation years
    model = build_model(args.window, args.units)
    model.summary()
    seconds, best_epoch, epochs_run = fit(model, (x_train, y_train[:, None]),
                                          (x_val, y_val[:, None]), args)

    # 3. held-out MAE of the model and of the baselines, on the same years
    actual = values[test_targets]
    forecast = model.predict(x_test, verbose=0)[:, 0] * std + mean
    seasonal = values[test_targets - CYCLE]
    naive = values[test_targets - 1]
    x_fit = np.concatenate([x_train, x_val]) if not args.quick else x_train
    y_fit = np.concatenate([y_train, y_val]) if not args.quick else y_train
    ar_next = linear_ar(x_fit, y_fit)
    ar = ar_next(x_test) * std + mean
    mae = {name: float(np.mean(np.abs(pred - actual)))
           for name, pred in (("rnn", forecast), ("seasonal", seasonal), ("naive", naive),
                              ("linear_ar", ar))}
    print(f"held-out MAE of the other baselines: naive y(t-1) {mae['naive']:.2f}, "
          f"linear AR({args.window}) {mae['linear_ar']:.2f}")

    # 4. several years ahead from each origin year t (every target inside the held-out period;
    #    the same origins for every forecaster): the one-step GRU fed its own forecasts, a
    #    many-to-many encoder-decoder trained on the `horizon` next values directly, the linear
    #    AR fed its own forecasts, and the two naive forecasts
    H = args.horizon
    xh_train, yh_train, _ = horizon_windows(scaled, args.window, H, args.window, val_start)
    xh_val, yh_val, _ = horizon_windows(scaled, args.window, H, val_start, test_start)
    xh_test, _, origins = horizon_windows(scaled, args.window, H, test_start, n)
    if args.quick:
        xh_train, yh_train = xh_train[-60:], yh_train[-60:]
    horizon_model = build_horizon_model(args.window, args.units, H)
    h_seconds, h_best_epoch, h_epochs_run = fit(horizon_model, (xh_train, yh_train),
                                                (xh_val, yh_val), args)
    target_years = origins[:, None] + np.arange(H)                         # (N, H)
    h_actual = values[target_years]
    one_step = lambda x: model.predict(x, verbose=0)[:, 0]                # noqa: E731
    h_preds = {
        "rnn_recursive": recursive(one_step, xh_test, H) * std + mean,
        "rnn_seq2seq": horizon_model.predict(xh_test, verbose=0)[..., 0] * std + mean,
        "linear_ar_recursive": recursive(ar_next, xh_test, H) * std + mean,
        "seasonal": values[target_years - CYCLE],                          # known at t: H <= 11
        "naive": np.repeat(values[origins - 1][:, None], H, axis=1),
    }
    steps = {name: np.abs(pred - h_actual).mean(axis=0).tolist() for name, pred in h_preds.items()}
    print(f"held-out MAE 1..{H} years ahead ({len(origins)} origins "
          f"{years[origins[0]]}-{years[origins[-1]]}): " + ", ".join(
              f"{name} {np.mean(v):.2f}" for name, v in steps.items()))

    # 5. the models, the plot, the report
    model.save(args.out / "model.rnnkit")
    horizon_model.save(args.out / "model_horizon.rnnkit")
    print(f"wrote {args.out / 'model.rnnkit'} and {args.out / 'model_horizon.rnnkit'}")
    plot(years, values, test_targets, forecast, seasonal, mae, steps, args.out / "forecast.png")
    report(args.out, "timeseries", "MAE", mae["rnn"], mae["seasonal"],
           "seasonal naive y(t-11)", higher_is_better=False, train_seconds=seconds + h_seconds,
           data=args.data or "statsmodels sunspots (yearly, 1700-2008)",
           naive_mae=mae["naive"], linear_ar_mae=mae["linear_ar"],
           best_epoch=best_epoch, epochs_run=epochs_run,
           held_out_years=[int(years[test_start]), int(years[-1])], window=args.window,
           horizon=H, horizon_origins=len(origins),
           horizon_mae={name: float(np.mean(v)) for name, v in steps.items()},
           horizon_mae_by_step=steps, horizon_best_epoch=h_best_epoch,
           horizon_epochs_run=h_epochs_run, mean=mean, std=std)
    return 0


if __name__ == "__main__":
    run_main(main)
