"""The examples' non-recurrent baselines, measured on the same split as the recurrent model:
:mod:`rnnkit.baselines.ngram` (character n-grams with interpolated Kneser-Ney smoothing) and
:mod:`rnnkit.baselines.bow` (tf-idf bag of n-grams with L2 logistic regression).

Nothing is imported here: ``import rnnkit.baselines.ngram`` loads only what it needs.
"""
