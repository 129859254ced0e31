"""Coverage-guided fuzzing of the static pickle analyser with atheris (libFuzzer for Python).

    .venv/bin/pip install atheris
    .venv/bin/python tools/fuzz_atheris.py -max_total_time=60 [-max_len=4096] [CORPUS_DIR ...]

The harness feeds each input to ``analyse_stream`` under a deadline and treats as a crash: any exception
(``analyse_stream`` must record malformed input, never raise) and any run over the time bound. The seed corpus
(real pickles of protocols 0-5, a malicious pickle, a scikit-learn model) is written to a temporary directory
when no corpus directory is given. libFuzzer writes a reproducer ``crash-<sha1>`` to the current directory;
replay it with ``.venv/bin/python tools/fuzz_atheris.py crash-<sha1>``.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import time

import atheris

with atheris.instrument_imports():
    from bastion.supplychain.pickle import AnalysisLimits, BufferSource, MachineLimits, Policy, analyse_stream

BOUND_S = 5.0
POLICY = Policy()


def one_input(data: bytes) -> None:
    """Analyse ``data``; raise (so libFuzzer records a crash) on an exception or a run over the bound."""
    started = time.monotonic()
    analyse_stream(BufferSource(data), POLICY, AnalysisLimits(machine=MachineLimits(deadline=started + BOUND_S)))
    elapsed = time.monotonic() - started
    if elapsed > BOUND_S + 1.0:
        raise TimeoutError(f"analyse_stream took {elapsed:.1f} s (bound {BOUND_S} s)")


def seed_corpus() -> str:
    """A directory of real pickles to start from."""
    folder = tempfile.mkdtemp(prefix="bastion-atheris-")
    objects: list[object] = [
        {"weights": [0.5, 1.5], "name": "head", "blob": b"\x00\x01" * 4},
        [1, 2**40, "text", "unicodé", None, True, 1.25, (1, (2,))],
        ("tuple", {"nested": {"d": [[], {}, ()]}}, frozenset({1}), {3}),
        bytearray(b"mutable"),
    ]
    seeds = [pickle.dumps(obj, protocol=p) for obj in objects for p in range(6)]
    seeds.append(b"cos\nsystem\n(S'echo hi'\ntR.")
    try:
        from sklearn.linear_model import LogisticRegression

        seeds.append(pickle.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), protocol=4))
    except ImportError:
        pass
    for index, data in enumerate(seeds):
        with open(os.path.join(folder, f"seed-{index:03d}"), "wb") as handle:
            handle.write(data)
    return folder


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus or reproducer given: use the seeds
        args.append(seed_corpus())
    if not any(a.startswith("-max_len") for a in args):
        args.append("-max_len=4096")
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
