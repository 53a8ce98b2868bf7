"""A small FASTA reader, and one-hot encoding of nucleotide sequences.

FASTA is the plain-text format of sequence data: a record is a header line starting with
``>`` followed by one or more lines of sequence letters::

    >chr1:15710957-15711157
    CACAGCAGAGACACCAAACC
    acagaatgggACGGCAGAGG

Lower case (soft-masked repeats in genome files) and ``N`` (unknown base) are allowed; blank
lines and ``;`` comment lines are skipped. ``read_fasta`` returns the records as
``(header, sequence)`` pairs with the sequence upper-cased; ``one_hot_dna`` turns equal-length
sequences into a ``(N, L, 4)`` array over ``A C G T`` (``N`` and the other IUPAC ambiguity codes
become a row of zeros, i.e. "no information").

>>> read_fasta(">a first\\nACgt\\nNA\\n\\n>b\\nTT\\n")
[('a first', 'ACGTNA'), ('b', 'TT')]
>>> one_hot_dna(["ACGN"])[0].tolist()
[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
"""

import os
from pathlib import Path

import numpy as np

NUCLEOTIDES = "ACGT"
# IUPAC nucleotide codes (A C G T U, the ambiguity codes, N, and "-" for a gap)
ALLOWED = set("ACGTUNRYKMSWBDHV-")


def read_fasta(source, name=None):
    """The records of a FASTA text as a list of ``(header, sequence)``.

    Args:
        source: the FASTA text (``str`` or ``bytes``, recognised by containing a newline or
            starting with ``>``) or a path to a FASTA file.
        name: how to call the source in error messages (default: the path, or ``<fasta>``).

    Returns:
        list of ``(header, sequence)``: the header without its ``>`` and surrounding spaces,
        the sequence joined over its lines and upper-cased.

    Raises:
        ValueError: ``name:line: ...`` for sequence letters before the first header, a letter
            that is not a nucleotide code, an empty header or a record without sequence.
    """
    if isinstance(source, bytes):
        source = source.decode("ascii", errors="replace")
    elif isinstance(source, (os.PathLike,)) or (isinstance(source, str) and "\n" not in source
                                                and not source.startswith(">")):
        path = Path(source)
        if name is None:
            name = str(path)
        source = path.read_text(encoding="ascii", errors="replace")
    name = name or "<fasta>"
    records, header, chunks, header_line = [], None, [], 0

    def close_record():
        if header is None:
            return
        if not chunks:
            raise ValueError(f"{name}:{header_line}: record {header!r} has no sequence")
        records.append((header, "".join(chunks)))

    for lineno, raw in enumerate(source.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            close_record()
            header, chunks, header_line = line[1:].strip(), [], lineno
            if not header:
                raise ValueError(f"{name}:{lineno}: empty header ('>' with no name)")
            continue
        if header is None:
            raise ValueError(f"{name}:{lineno}: sequence before the first '>' header "
                             f"(not a FASTA file?): {line[:40]!r}")
        seq = line.upper().replace(" ", "")
        bad = set(seq) - ALLOWED
        if bad:
            raise ValueError(f"{name}:{lineno}: not a nucleotide letter: "
                             f"{''.join(sorted(bad))[:10]!r} in {line[:40]!r}")
        chunks.append(seq)
    close_record()
    return records


def one_hot_dna(sequences, dtype=np.float32):
    """Equal-length DNA strings as a one-hot ``(N, L, 4)`` array over ``A C G T``.

    ``U`` counts as ``T``; ``N`` and other ambiguity codes give an all-zero row. Raises
    ValueError naming the first sequence whose length differs from the first one's.
    """
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, 0, 4), dtype=dtype)
    L = len(sequences[0])
    for i, s in enumerate(sequences):
        if len(s) != L:
            raise ValueError(f"sequence {i} has length {len(s)}, the first has {L}: "
                             "one_hot_dna needs equal lengths")
    # one byte per letter -> an index 0..3 (4 = no information), through a 256-entry table
    table = np.full(256, 4, dtype=np.int64)
    for k, c in enumerate(NUCLEOTIDES):
        table[ord(c)] = table[ord(c.lower())] = k
    table[ord("U")] = table[ord("u")] = 3
    codes = np.frombuffer("".join(sequences).encode("ascii", errors="replace"), dtype=np.uint8)
    idx = table[codes].reshape(len(sequences), L)                       # (N, L)
    eye = np.vstack([np.eye(4, dtype=dtype), np.zeros((1, 4), dtype=dtype)])
    return eye[idx]                                                     # (N, L, 4)
