"""Loss functions against independent references (IWAE: tests/test_iwae.py)."""

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae.losses import (
    kl_per_dim,
    kl_standard_normal,
    kl_weight,
    reconstruction_nll,
    vae_loss,
)


def test_kl_matches_monte_carlo_estimate():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    std = torch.exp(0.5 * logvar)
    q, p = Normal(mu, std), Normal(torch.zeros(3), torch.ones(3))
    z = q.sample((200_000,))  # (S, 4, 3)
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(kl_standard_normal(mu, logvar), monte_carlo, atol=0.02)
    assert torch.allclose(kl_per_dim(mu, logvar), kl_divergence(q, p), atol=1e-5)


def test_kl_is_zero_only_at_the_prior():
    assert kl_standard_normal(torch.zeros(1, 5), torch.zeros(1, 5)).item() == pytest.approx(0.0)
    assert kl_standard_normal(torch.ones(1, 5), torch.zeros(1, 5)).item() == pytest.approx(2.5)


def test_bernoulli_nll_is_bce_on_pixels_summed_per_image():
    torch.manual_seed(0)
    logits, x = torch.randn(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    expected = -Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x), expected, atol=1e-4)


def test_gaussian_nll_matches_normal_log_prob():
    torch.manual_seed(0)
    logits, x = torch.randn(2, 1, 3, 3), torch.rand(2, 1, 3, 3)
    expected = -Normal(torch.sigmoid(logits), 0.2).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x, "gaussian", 0.2), expected, atol=1e-4)


def test_unknown_likelihood_is_refused():
    with pytest.raises(ValueError, match="unknown likelihood"):
        reconstruction_nll(torch.zeros(1, 4), torch.zeros(1, 4), "poisson")


def test_kl_warmup_is_linear_then_flat_at_beta():
    assert kl_weight(0, 100, beta=2.0) == 0.0
    assert kl_weight(50, 100, beta=2.0) == pytest.approx(1.0)
    assert kl_weight(500, 100, beta=2.0) == 2.0
    assert kl_weight(0, 0, beta=0.5) == 0.5


def test_beta_scales_only_the_kl_term():
    torch.manual_seed(0)
    logits, x = torch.randn(2, 1, 2, 2), torch.rand(2, 1, 2, 2)
    mu, logvar = torch.randn(2, 3), torch.randn(2, 3)
    one, four = vae_loss(logits, x, mu, logvar, 1.0), vae_loss(logits, x, mu, logvar, 4.0)
    assert torch.allclose(four.loss - one.loss, 3 * one.kl)
    assert torch.allclose(one.neg_elbo, four.neg_elbo)

