"""Speed and memory next to the reference implementations: see `sam2_hf.benchmark`.

    python scripts/benchmark.py --quick --json results.json
"""

from sam2_hf.benchmark import main

if __name__ == "__main__":
    main()
