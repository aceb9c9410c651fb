"""IWAE against an exact answer: a model whose log p(x) and ELBO are known to 1e-9 nats.

One latent z ~ N(0, 1) and 64 Bernoulli pixels with logits a z + c (the project's own likelihood).
p(x) is then a one-dimensional integral, which quadrature on a fine grid gets exactly (the test
checks the grid against one twice as fine). The encoder is the true posterior's mean and spread,
deliberately shifted and widened, so the ELBO sits a known distance below log p(x) and IWAE-k has
that gap to close as k grows.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from vae.losses import iwae_log_likelihood
from vae.models.base import VAE, ModelConfig

SHAPE = (1, 8, 8)
N_IMAGES = 100
SHIFT, WIDEN = 0.5, 1.5  # q(z|x) = N(m + SHIFT s, (WIDEN s)^2) for the posterior's mean m and sd s
GRID = torch.linspace(-12, 12, 4801, dtype=torch.float64)  # step 0.005; the posterior's sd is ~0.4


class OneLatentBernoulli(VAE):
    """x | z ~ Bernoulli(sigmoid(a z + c)) per pixel, z ~ N(0, 1); q(z|x) as the module says."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(ModelConfig(input_shape=SHAPE, latent_dim=1))
        generator = torch.Generator().manual_seed(seed)
        n = math.prod(SHAPE)
        self.a = nn.Parameter(0.7 * torch.randn(n, generator=generator, dtype=torch.float64), requires_grad=False)
        self.c = nn.Parameter(0.5 * torch.randn(n, generator=generator, dtype=torch.float64), requires_grad=False)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) for images (B, ...) at every point of the grid z (G,): (B, G), float64.

        Bernoulli with logits l: log p(x|z) = sum over pixels of x l - softplus(l), l = a z + c.
        """
        x = x.flatten(1).double()  # (B, P)
        softplus = nn.functional.softplus(z[:, None] * self.a + self.c).sum(1)  # (G,)
        log_px_z = torch.outer(x @ self.a, z) + (x @ self.c)[:, None] - softplus  # (B, G)
        return log_px_z + Normal(0.0, 1.0).log_prob(z)

    def posterior(self, x: torch.Tensor, grid: torch.Tensor = GRID) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and sd of the true p(z|x), (B,) each."""
        weights = torch.softmax(self.log_joint(x, grid), dim=1)
        mean = weights @ grid
        return mean, (weights @ grid.pow(2) - mean.pow(2)).sqrt()

    def _encode_params(self, x: torch.Tensor) -> torch.Tensor:
        mean, sd = self.posterior(x)
        return torch.stack([mean + SHIFT * sd, 2 * torch.log(WIDEN * sd)], dim=1).float()

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return (z.double() * self.a + self.c).float().view(-1, *SHAPE)


def exact_log_px(model: OneLatentBernoulli, x: torch.Tensor, grid: torch.Tensor = GRID) -> torch.Tensor:
    """log p(x) = log of the integral of p(x, z) over z, by the trapezoid rule, (B,)."""
    step = grid[1] - grid[0]
    return torch.logsumexp(model.log_joint(x, grid), dim=1) + torch.log(step)


def exact_elbo(model: OneLatentBernoulli, x: torch.Tensor) -> torch.Tensor:
    """E_q[log p(x|z)] - KL(q || p(z)) by the same quadrature, (B,)."""
    mu, logvar = (t.double()[:, 0] for t in model.encode(x))  # (B,) each: one latent
    q = Normal(mu[:, None], torch.exp(0.5 * logvar)[:, None])
    q_on_grid = q.log_prob(GRID).exp() * (GRID[1] - GRID[0])  # (B, G)
    log_px_z = model.log_joint(x, GRID) - Normal(0.0, 1.0).log_prob(GRID)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    return (q_on_grid * log_px_z).sum(1) - kl


@pytest.fixture(scope="module")
def problem() -> tuple[OneLatentBernoulli, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model, images drawn from it, their exact log p(x) and exact ELBO."""
    model = OneLatentBernoulli().eval()
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(N_IMAGES, 1, generator=generator)
    x = torch.bernoulli(torch.sigmoid(model.decode_logits(z)), generator=generator)
    return model, x, exact_log_px(model, x), exact_elbo(model, x)


def iwae(model, x, k: int, seed: int = 2) -> torch.Tensor:
    return iwae_log_likelihood(model, x, k=k, generator=torch.Generator().manual_seed(seed)).double()


def mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


def test_the_quadrature_is_exact(problem):
    model, x, log_px, elbo = problem
    finer = torch.linspace(-12, 12, 2 * len(GRID) - 1, dtype=torch.float64)
    assert torch.allclose(exact_log_px(model, x, finer), log_px, atol=1e-9, rtol=0)
    # The test's encoder is a real approximation: the ELBO is below log p(x) by KL(q || p(z|x)).
    gap = log_px - elbo
    assert (gap > 0.1).all() and gap.mean() < 1.0


def test_iwae_with_one_sample_is_the_elbo_in_expectation(problem):
    model, x, _, elbo = problem
    draws = torch.stack([iwae(model, x, k=1, seed=seed) for seed in range(10)])  # (10, B)
    difference, stderr = mean_and_stderr(draws.mean(0) - elbo)
    assert abs(difference) < 4 * stderr and stderr < 0.05, (difference, stderr)


def test_iwae_approaches_the_exact_log_likelihood_as_k_grows(problem):
    model, x, log_px, elbo = problem
    estimates = {k: iwae(model, x, k) for k in (1, 10, 100, 1000)}
    gaps = {k: mean_and_stderr(log_px - value) for k, value in estimates.items()}  # mean, its stderr
    ks = sorted(gaps)
    for k in ks:  # a lower bound in expectation
        assert gaps[k][0] > -4 * gaps[k][1], gaps
    for smaller, larger in zip(ks, ks[1:], strict=False):  # that tightens with k
        assert gaps[larger][0] < gaps[smaller][0] + 3 * gaps[smaller][1], gaps
    assert gaps[1][0] == pytest.approx((log_px - elbo).mean().item(), abs=4 * gaps[1][1])
    assert abs(gaps[1000][0]) < 0.01 and gaps[1000][0] < gaps[1][0] / 20, gaps
    worst = (log_px - estimates[1000]).abs().max().item()
    assert worst < 0.15, worst


def test_iwae_rejects_k_out_of_range(problem):
    model, x, _, _ = problem
    with pytest.raises(ValueError):
        iwae_log_likelihood(model, x[:1], k=5001)
    with pytest.raises(ValueError):
        iwae_log_likelihood(model, x[:1], k=0)

