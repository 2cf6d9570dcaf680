"""fastinit raw (raw Philox words on stdout) and fastinit info (build configuration).
"""
from __future__ import annotations

import sys

from ._args import _count, _fail, _int, parse_stream, silence_stdout


def _add_raw(sub):
    p = sub.add_parser(
        "raw", help="raw little-endian uint32 words of a stream to stdout",
        description="Write the Philox4x32-10 words of (seed, stream) to stdout as little-endian "
                    "uint32, endlessly unless --count is given: pipe into dieharder -g 200 or "
                    "PractRand's RNG_test stdin32.", allow_abbrev=False)
    p.add_argument("--seed", type=_int, required=True, help="integer in [0, 2**64)")
    p.add_argument("--stream", help="stream number or name (default 0)")
    p.add_argument("--count", type=_count, help="number of words (default: endless)")
    p.add_argument("--start", type=_count, default=0, help="index of the first word (default 0)")
    p.set_defaults(func=run_raw)


def _add_info(sub):
    p = sub.add_parser("info", help="version and build configuration (SIMD paths, OpenMP)",
                       allow_abbrev=False)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_info)


def run_raw(args):

    import fastinit

    stream = parse_stream(args.stream)
    try:
        fastinit.random_raw(0, seed=args.seed, stream=stream, start=args.start)
    except (TypeError, ValueError, OverflowError) as exc:
        _fail(str(exc))
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise OSError("stdout is closed: redirect it to a file or pipe it, e.g. "
                      "fastinit raw --seed 0 | dieharder -a -g 200")
    out = sys.stdout.buffer
    block = 1 << 20  # words per write: 4 MB
    pos, end = args.start, (None if args.count is None else args.start + args.count)
    if end is not None and end > 1 << 64:
        _fail("--start + --count must be <= 2**64 (the stream has 2**64 words)")
    stop = (1 << 64) if end is None else end
    try:
        while pos < stop:
            n = min(block, stop - pos)
            words = fastinit.random_raw(n, seed=args.seed, stream=stream, start=pos)
            out.write(words.astype("<u4", copy=False).data)
            pos += n
        out.flush()
    except BrokenPipeError:
        # The reader stopped (head, dieharder done): that is the normal end of an
        # endless stream.  Point stdout at /dev/null so the interpreter's final
        # flush does not complain.
        silence_stdout()
        return 0
    return 0


def run_info(args):
    import fastinit

    if args.json:
        import json

        print(json.dumps(fastinit.show_config(file=False), indent=2, default=str))
    else:
        fastinit.show_config()
    return 0
