"""How many CPU threads training uses, chosen by timing its own steps.

Every core should be fastest on a quiet machine (not measured: this one never was). On one that
others share, torch's threads wait for each other at every operation: one thread trained the conv
z16 model 1.7-3.4x faster than two on this 2-core machine while others used it
(bench/conv_train_speed.py, the bare loop, per round). So each epoch starts by training a few steps
at each candidate count, in turn, and goes on with the fastest (median step time). The count
changes the order of some sums: a conv model's loss after an epoch differed in the 9th digit
between one and two threads, so a rerun is bit for bit the same only with a fixed count
(`Trainer(cpu_threads=n)`).
"""

from __future__ import annotations

import statistics

import torch

TRIAL_STEPS = 3  # steps timed at each candidate, each epoch


class ThreadChoice:
    """Sets torch's intra-op threads before each step: candidates in turn first, then the fastest."""

    def __init__(self, candidates: tuple[int, ...], trial_steps: int = TRIAL_STEPS) -> None:
        self.candidates = candidates
        self.trial_steps = trial_steps
        self.chosen = max(candidates)
        self.start_epoch()

    @classmethod
    def for_cpu(cls, cpu_threads: int) -> ThreadChoice:
        """`cpu_threads` 0: choose between one thread and torch's count (one per core); n: n threads."""
        cores = torch.get_num_threads()
        return cls((1, cores) if cpu_threads == 0 and cores > 1 else (cpu_threads or cores,))

    def start_epoch(self) -> None:
        self.trials = [c for _ in range(self.trial_steps) for c in self.candidates] if len(self.candidates) > 1 else []
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.current = self.chosen

    def before_step(self) -> None:
        step = sum(len(t) for t in self.times.values())
        self.current = self.trials[step] if step < len(self.trials) else self.chosen
        if torch.get_num_threads() != self.current:
            torch.set_num_threads(self.current)

    def after_step(self, seconds: float) -> None:
        step = sum(len(t) for t in self.times.values())
        if step < len(self.trials):
            self.times[self.current].append(seconds)
            if step + 1 == len(self.trials):
                self.chosen = min(self.candidates, key=lambda c: statistics.median(self.times[c]))
