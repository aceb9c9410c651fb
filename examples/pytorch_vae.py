"""A plain PyTorch VAE, written the way projects outside VAE Lab write one (it imports nothing from VAE Lab).

The classic pytorch/examples model (784-400-20 MLP, Bernoulli decoder) on Fashion-MNIST read from
the IDX files. It trains, then saves a state dict; `vae-lab import torch` turns it into a bundle:

    python examples/pytorch_vae.py --epochs 1 --out fashion_vae.pt
    vae-lab import torch --model examples/pytorch_vae.py:VAE --weights fashion_vae.pt \
        --dataset fashion-mnist --decoder-output probs --input-layout flat --out checkpoints/my-import
"""

import argparse
import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class VAE(nn.Module):
    def __init__(self, latent_dim=20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent_dim)
        self.fc22 = nn.Linear(400, latent_dim)
        self.fc3 = nn.Linear(latent_dim, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def read_images(path):
    """IDX image file (optionally gzipped) -> float32 (N, 784) in [0, 1]."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[4:8], "big")
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=16).reshape(n, 784).astype(np.float32) / 255)


def main():
    parser = argparse.ArgumentParser(description="Train the classic VAE on Fashion-MNIST")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="fashion_vae.pt")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    folder = Path(args.data_dir)
    train = read_images(next(folder.glob("train-images-idx3-ubyte*")))[: args.limit]
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train)).split(args.batch_size):
            x = train[batch]
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch}: average loss {total / len(train):.2f}")
    torch.save(model.state_dict(), args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
