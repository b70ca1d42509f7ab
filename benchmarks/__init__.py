"""meterlib's benchmarks: meterlib beside a baseline, in the same process and run.

`python -m benchmarks` prints the table and `--json PATH` writes it; `--quick` is the seconds-long
smoke mode CI runs to prove the benchmarks still work (its numbers are noisy). Every measure is
a ratio of medians over interleaved rounds, so the machine's speed cancels out.
"""
