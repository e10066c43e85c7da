"""`python -m bench`: the same as `python -m bench.bench` (what `make bench` runs)."""

from bench.bench import main

if __name__ == "__main__":
    main()
