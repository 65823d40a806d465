"""Command line: ``python -m fastdl {info,demo,bench}``.

info   print the build and runtime configuration (``fastdl.show_config()``)
demo   the main job: train the course's models on scikit-learn's bundled digits
bench  time fastdl against the NumPy reference and the installed peers, as one table
"""
import argparse
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m fastdl", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="show the build and runtime configuration")

    demo = sub.add_parser("demo", help="train the course's models on the digits data set")
    demo.add_argument("--quick", action="store_true", help="a CI-sized run (few epochs)")
    demo.add_argument("--epochs", type=_positive_int, default=None,
                      help="epochs of the dense network and the CNN (default 40 and 15; 5 and 3 "
                           "with --quick)")
    demo.add_argument("--threads", type=_positive_int, default=None,
                      help="kernel threads (default: OMP_NUM_THREADS or all cores)")
    demo.add_argument("--backend", choices=("native", "numpy", "both"), default="both",
                      help="run on the native kernels, the NumPy reference, or both and "
                           "report the speed-up (default)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the split, init and batches")
    demo.add_argument("--plot", metavar="PNG", default=None,
                      help="write learning curves to this PNG (needs matplotlib)")

    bench = sub.add_parser("bench", help="time fastdl against the reference and the peers")
    bench.add_argument("--quick", action="store_true", help="smaller shapes, fewer repeats")
    bench.add_argument("--threads", type=_positive_int, default=2, help="threads on every side")
    bench.add_argument("--repeats", type=_positive_int, default=5,
                       help="alternated (fastdl, peer) pairs per case; the median is shown")
    bench.add_argument("--only", default=None, help="run the cases whose id contains this text")
    bench.add_argument("--json", metavar="PATH", default=None,
                       help="also write the results (and the measured limits) as JSON")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "info":
        import fastdl
        fastdl.show_config()
        return 0
    if args.command == "demo":
        from ._demo import run_demo
        return run_demo(args)
    from ._bench import run_bench
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
