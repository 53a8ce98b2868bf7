"""Forecasting yearly sunspot numbers with a GRU (many-to-one), against naive forecasts.

The data: the yearly mean sunspot number 1700-2008 (309 values) that ships inside
``statsmodels`` (``pip install 'rnnkit[timeseries]'``; ``--data`` takes a ``sunspots.csv`` of
the same two columns instead). The series rises and falls with the ~11-year solar cycle, with
peaks between 50 and 190.

The task: forecast next year's value from the past ``--window`` years (24: two cycles). The last
20 % of the years (1947-2008) are held out in time order: no held-out year is a training target,
and the scaling (mean and standard deviation) comes from the training years only. The last 15 %
of the training targets (chronologically) are a validation slice for early stopping. A held-out
forecast reads the real values of the years before it (one-step-ahead forecasting), as every
baseline does.

The model (many-to-one: a window of values in, one value out)::

    window (B, 24, 1) -> GRU(32) -> (B, 32) -> Dense(1) -> next year's value (B, 1), scaled

The metric is the mean absolute error (MAE, in sunspot numbers) over the held-out years, next to
baselines scored on exactly the same years:

* seasonal naive (the main baseline): y_hat(t) = y(t - 11), one solar cycle earlier;
* naive (persistence): y_hat(t) = y(t - 1);
* linear autoregression on the same 24-year window (least squares on the training and
  validation windows, so it sees more data than the GRU trains on):
  a stronger non-recurrent baseline, reported beside the others.

    python examples/timeseries.py            # full run (seconds: early stopping ends it)
    python examples/timeseries.py --quick    # a seconds-long smoke run

Writes ``forecast.png`` (the whole series, then the held-out years with the GRU's forecast and
the seasonal-naive one), ``model.rnnkit`` and ``metrics.json`` to ``--out`` (runs/timeseries).
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


def linear_ar(x_train, y_train, x_test, ridge=1e-3):
    """Least-squares linear autoregression on the flattened windows (with an intercept)."""
    def design(x):
        return np.hstack([x.reshape(len(x), -1), np.ones((len(x), 1))])
    a = design(x_train).astype(np.float64)
    coef = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y_train)
    return design(x_test) @ coef


def build_model(window, units):
    model = rnnkit.Sequential([layers.Input((window, 1)), layers.GRU(units), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3), loss="mse")
    return model


def plot(years, values, test_targets, forecast, seasonal, maes, path):
    plt = pyplot()
    if plt is None:
        return
    t0 = test_targets[0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7),
                                      gridspec_kw=dict(height_ratios=(1, 1.4)))
    top.plot(years, values, color="0.3", lw=1)
    top.axvspan(years[t0] - 0.5, years[-1] + 0.5, color="tab:orange", alpha=0.12,
                label="held out (last 20 %)")
    top.set(title="yearly mean sunspot number, 1700-2008", ylabel="sunspots")
    top.legend(loc="upper left")
    ty = years[test_targets]
    bottom.plot(ty, values[test_targets], color="black", lw=2, label="actual")
    bottom.plot(ty, forecast, color="tab:blue", marker="o", ms=3,
                label=f"GRU, next year from the past 24 (MAE {maes['rnn']:.1f})")
    bottom.plot(ty, seasonal, color="tab:red", ls="--",
                label=f"seasonal naive y(t-11) (MAE {maes['seasonal']:.1f})")
    bottom.set(title="held-out years: one-step-ahead forecasts", xlabel="year", ylabel="sunspots")
    bottom.legend(loc="upper right", fontsize=9)
    save_figure(fig, path)


def main():
    p = parser("timeseries", "Forecast yearly sunspot numbers with a GRU; MAE vs seasonal naive.",
               data_help="a sunspots.csv with columns YEAR,SUNACTIVITY (default: the one in "
                         "the installed statsmodels)")
    p.add_argument("--window", type=int, default=24, help="years per input window (default 24)")
    p.add_argument("--units", type=int, default=32, help="GRU units (default 32)")
    args = finish_args(p, p.parse_args(), full_epochs=300, quick_epochs=2)
    if not CYCLE < args.window < 100:
        p.error(f"--window must be in {CYCLE + 1}..99")
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

    # 2. the model; early stopping on the validation slice keeps the best epoch's weights
    model = build_model(args.window, args.units)
    model.summary()
    stop = rnnkit.callbacks.EarlyStopping(monitor="val_loss", patience=40,
                                          restore_best_weights=True)
    timer = Timer()
    history = model.fit(x_train, y_train[:, None], batch_size=16, epochs=args.epochs,
              validation_data=(x_val, y_val[:, None]), callbacks=[stop], verbose=1,
              seed=args.seed)
    train_seconds = timer.seconds

    # 3. held-out MAE of the model and of the baselines, on the same years
    actual = values[test_targets]
    forecast = model.predict(x_test, verbose=0)[:, 0] * std + mean
    seasonal = values[test_targets - CYCLE]
    naive = values[test_targets - 1]
    x_fit = np.concatenate([x_train, x_val]) if not args.quick else x_train
    y_fit = np.concatenate([y_train, y_val]) if not args.quick else y_train
    ar = linear_ar(x_fit, y_fit, x_test) * std + mean
    mae = {name: float(np.mean(np.abs(pred - actual)))
           for name, pred in (("rnn", forecast), ("seasonal", seasonal), ("naive", naive),
                              ("linear_ar", ar))}
    print(f"held-out MAE of the other baselines: naive y(t-1) {mae['naive']:.2f}, "
          f"linear AR({args.window}) {mae['linear_ar']:.2f}")

    # 4. the model, the plot, the report
    model.save(args.out / "model.rnnkit")
    print(f"wrote {args.out / 'model.rnnkit'}")
    plot(years, values, test_targets, forecast, seasonal, mae, args.out / "forecast.png")
    report(args.out, "timeseries", "MAE", mae["rnn"], mae["seasonal"],
           "seasonal naive y(t-11)", higher_is_better=False, train_seconds=train_seconds,
           data=args.data or "statsmodels sunspots (yearly, 1700-2008)",
           naive_mae=mae["naive"], linear_ar_mae=mae["linear_ar"],
           best_epoch=int(stop.best_epoch) + 1, epochs_run=len(history.history["loss"]),
           held_out_years=[int(years[test_start]), int(years[-1])], window=args.window,
           mean=mean, std=std)
    return 0


if __name__ == "__main__":
    run_main(main)
