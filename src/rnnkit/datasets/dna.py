"""Oct4 vs MafK binding sites: 7,797 DNA sequences of 200 nucleotides, from the janggu wheel.

janggu (Kopp et al., Nature Communications 2020; GPL-3.0) ships two FASTA files with its tests
and tutorial, the 200-bp regions around ChIP-seq peaks of two transcription factors in human
cells (headers are ``chrom:start-end``):

* ``janggu/resources/sample.fa`` — **Oct4** (POU5F1), 3,897 regions: the octamer motif
  ``ATGCAAAT`` is in 326 of them against 44 of MafK's;
* ``janggu/resources/sample2.fa`` — **MafK**, 3,900 regions: the MARE motif half-site
  ``TGCTGA(C/G)`` / ``TCAGCA`` is in ~1,850 of them against ~370 of Oct4's.

janggu's own example (``src/examples/classify_fasta.py`` in its repository) names them so:
sample.fa is "Oct4" (its label 1) and sample2.fa "Mafk" (label 0); the motif counts above,
measured on the files, agree. Here the labels are 0 = Oct4, 1 = MafK, in file order.

The files are read straight from the ``janggu==0.10.2`` wheel, a zip file, which is never
installed (it would pull TensorFlow)::

    pip download --no-deps janggu==0.10.2 -d ~/.cache/rnnkit/wheels

>>> x, y, headers = load_dna_binding()          # doctest: +SKIP
>>> x.shape, x.dtype, y[:2].tolist(), headers[0]  # doctest: +SKIP
((7797, 200, 4), dtype('float32'), [0, 0], 'chr1:15710957-15711157')
"""

import numpy as np

from .fasta import NUCLEOTIDES, one_hot_dna, read_fasta
from .sources import find_wheel, load_cached_arrays, read_wheel_member, save_cached_arrays

JANGGU_VERSION = "0.10.2"
DNA_FILES = ("janggu/resources/sample.fa", "janggu/resources/sample2.fa")
DNA_CLASS_NAMES = ("Oct4", "MafK")            # label 0 = sample.fa, label 1 = sample2.fa


def read_dna_binding_wheel(wheel):
    """``(sequences, labels, headers)`` parsed from the two FASTA members of the janggu wheel."""
    sequences, labels, headers = [], [], []
    for label, member in enumerate(DNA_FILES):
        text = read_wheel_member(wheel, member)
        records = read_fasta(text, name=f"{wheel.name}/{member}")
        if not records:
            raise ValueError(f"{wheel.name}/{member}: no FASTA records")
        for header, seq in records:
            headers.append(header)
            sequences.append(seq)
            labels.append(label)
    return sequences, np.array(labels, dtype=np.int64), headers


def load_dna_binding(path=None, cache=True):
    """Oct4 (label 0) vs MafK (label 1) binding sites as one-hot arrays.

    Args:
        path: the janggu 0.10.2 wheel, or a folder holding it (default: ``data_home()/wheels``).
        cache: keep the parsed sequences in ``data_home()/cache`` (as one byte per nucleotide).

    Returns:
        ``(x, y, headers)``: ``x`` float32 ``(N, 200, 4)`` one-hot over ``A C G T`` (``N`` bases
        are all-zero rows), ``y`` int64 ``(N,)``, ``headers`` a list of ``chrom:start-end``
        strings; Oct4's 3,897 sequences first, then MafK's 3,900.

    Raises:
        MissingDataError: no wheel (the message gives the ``pip download`` command).
        ValueError: a member is not valid FASTA, or its sequences differ in length.
    """
    wheel = find_wheel("janggu", JANGGU_VERSION, path, what="Oct4/MafK DNA data")
    key = f"dna_binding_{wheel.name}_{wheel.stat().st_size}.npz"
    arrays = load_cached_arrays(key) if cache else None
    if arrays is None:
        sequences, y, headers = read_dna_binding_wheel(wheel)
        codes = one_hot_dna(sequences, dtype=np.uint8)      # (N, L, 4) of 0/1
        arrays = dict(onehot=np.packbits(codes, axis=-1), y=y, headers=np.array(headers))
        if cache:
            save_cached_arrays(key, **arrays)
    x = np.unpackbits(arrays["onehot"], axis=-1)[..., :len(NUCLEOTIDES)].astype(np.float32)
    return x, arrays["y"].astype(np.int64), [str(h) for h in arrays["headers"]]


def chromosome_split(headers, test_chromosomes=("chr1", "chr3")):
    """Boolean mask of the sequences on ``test_chromosomes`` (header ``chrom:start-end``).

    Holding out whole chromosomes is the usual split for genomic data: no region of the
    held-out set overlaps, or sits next to, a training region.
    """
    chrom = np.array([h.split(":", 1)[0] for h in headers])
    return np.isin(chrom, list(test_chromosomes))
