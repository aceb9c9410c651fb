"""Training the published-style models for a few seconds, so that their reconstructions say which
reading of them is right; and a Keras-style ONNX pair (as keras-io's VAE exports), used by the import,
page and browser tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def fit(model: nn.Module, step, x: torch.Tensor, epochs: int, batch: int = 16, lr: float = 3e-3) -> nn.Module:
    """A few epochs of Adam on `step(model, batch) -> loss`, on one thread (small convolutions run
    several times faster so on a busy 2-core machine); the model is left in eval mode."""
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.train()
    try:
        for _ in range(epochs):
            for start in range(0, len(x), batch):
                optimizer.zero_grad()
                step(model, x[start:start + batch]).backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(mu)


class KerasStyleEncoder(nn.Module):
    """keras-io's encoder: (N, 28, 28, 1) in [0, 1] -> z_mean, z_log_var and a sample z."""

    def __init__(self, latent: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU())
        self.z_mean, self.z_log_var = nn.Linear(64, latent), nn.Linear(64, latent)

    def forward(self, x):
        h = self.net(x)
        z_mean, z_log_var = self.z_mean(h), self.z_log_var(h)
        return z_mean, z_log_var, z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)


class KerasStyleDecoder(nn.Module):
    def __init__(self, latent: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, 784), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).reshape(-1, 28, 28, 1)


def keras_style_pair(folder: Path, train_images: np.ndarray) -> tuple[nn.Module, nn.Module]:
    """Train the pair on uint8 (N, 1, 28, 28) images and export `encoder.onnx` (input "input_layer",
    outputs z_mean, z_log_var, z) and `decoder.onnx` into `folder`, as keras-io's users export theirs."""
    torch.manual_seed(0)
    encoder, decoder = KerasStyleEncoder(), KerasStyleDecoder()
    train = torch.from_numpy(train_images).float().permute(0, 2, 3, 1) / 255

    def step(m, x):
        z_mean, z_log_var, z = m[0](x)
        return F.binary_cross_entropy(m[1](z), x, reduction="sum") / len(x) + kl(z_mean, z_log_var)

    fit(nn.ModuleList([encoder, decoder]), step, train, epochs=8)
    torch.onnx.export(encoder, (train[:2],), folder / "encoder.onnx", dynamo=False, input_names=["input_layer"],
                      output_names=["z_mean", "z_log_var", "z"], dynamic_axes={"input_layer": {0: "batch"}})
    torch.onnx.export(decoder, (torch.zeros(2, 2),), folder / "decoder.onnx", dynamo=False,
                      input_names=["z_sampling"], output_names=["conv2d_transpose_2"],
                      dynamic_axes={"z_sampling": {0: "batch"}})
    return encoder, decoder
