"""Model files written the way published VAE projects write theirs (their conventions, not their code).

Each is source text a test writes to disk and imports with `vae-lab import`, and also runs itself
(in a namespace of its own) to train it and to compute the expected outputs by hand.
"""

# AntixK/PyTorch-VAE: a `models` package whose modules import the package itself and a sibling
# with a relative import; the class takes (in_channels, latent_dim, hidden_dims); encode returns a
# list [mu, log_var]; decode ends in Tanh; 3x64x64 images. Its checkpoints are Lightning's.
ANTIXK_INIT = "from .base import *\nfrom .vanilla_vae import *\n\nVAE = VanillaVAE\n"
ANTIXK_TYPES = "from typing import List, Callable, Union, Any, TypeVar, Tuple\n\nTensor = TypeVar('torch.tensor')\n"
ANTIXK_BASE = '''from .types_ import *
from torch import nn


class BaseVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()

    def encode(self, input):
        raise NotImplementedError
'''
ANTIXK_MODEL = '''import torch
from models import BaseVAE
from torch import nn
from .types_ import *


class VanillaVAE(BaseVAE):
    def __init__(self, in_channels: int, latent_dim: int, hidden_dims: List = None, **kwargs) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        hidden_dims = hidden_dims or [8, 16, 32]
        modules = []
        for h_dim in hidden_dims:
            modules.append(nn.Sequential(nn.Conv2d(in_channels, h_dim, 3, 2, 1), nn.BatchNorm2d(h_dim),
                                         nn.LeakyReLU()))
            in_channels = h_dim
        self.encoder = nn.Sequential(*modules)
        self.last = hidden_dims[-1]
        self.fc_mu = nn.Linear(self.last * 64, latent_dim)
        self.fc_var = nn.Linear(self.last * 64, latent_dim)
        self.decoder_input = nn.Linear(latent_dim, self.last * 64)
        hidden_dims.reverse()
        modules = []
        for i in range(len(hidden_dims) - 1):
            modules.append(nn.Sequential(nn.ConvTranspose2d(hidden_dims[i], hidden_dims[i + 1], 3, 2, 1, 1),
                                         nn.BatchNorm2d(hidden_dims[i + 1]), nn.LeakyReLU()))
        self.decoder = nn.Sequential(*modules)
        self.final_layer = nn.Sequential(nn.ConvTranspose2d(hidden_dims[-1], hidden_dims[-1], 3, 2, 1, 1),
                                         nn.LeakyReLU(), nn.Conv2d(hidden_dims[-1], 3, 3, padding=1), nn.Tanh())

    def encode(self, input):
        result = torch.flatten(self.encoder(input), start_dim=1)
        return [self.fc_mu(result), self.fc_var(result)]

    def decode(self, z):
        result = self.decoder_input(z).view(-1, self.last, 8, 8)
        return self.final_layer(self.decoder(result))

    def forward(self, input, **kwargs):
        mu, log_var = self.encode(input)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return [self.decode(z), input, mu, log_var]
'''

# pytorch/examples vae/main.py: a script. At load time it parses its arguments, builds data loaders
# that download, builds the model and trains it; encode takes flat (N, 784) vectors and returns a
# tuple; decode returns sigmoid probabilities. Here the load-time work also leaves a marker file,
# so a test sees that none of it ran (the script is formatted with str.format: its braces are doubled).
EXAMPLES_CLASS = '''class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))
'''
EXAMPLES_SCRIPT = '''from __future__ import print_function
import argparse
import pathlib
import torch
from torch import nn, optim
from torch.nn import functional as F

parser = argparse.ArgumentParser(description='VAE MNIST Example')
parser.add_argument('--batch-size', type=int, default=128, metavar='N')
parser.add_argument('--epochs', type=int, default=10, metavar='N')
args = parser.parse_args()
use_accel = not args.no_accel and torch.accelerator.is_available()
pathlib.Path(__file__).with_name("LOADED_AS_A_SCRIPT").write_text("downloading MNIST, training")
kwargs = {{'num_workers': 1, 'pin_memory': True}} if use_accel else {{}}
train_loader = torch.utils.data.DataLoader(datasets.MNIST('../data', train=True, download=True), **kwargs)


{model}

model = VAE()
optimizer = optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1, args.epochs + 1):
    train(epoch)
'''

# diffusers' AutoencoderKL: images in [-1, 1]; encode returns an output object whose .latent_dist
# is a diagonal Gaussian with .mean/.logvar/.std made from one "moments" tensor; the latent is
# spatial (4x7x7); decode returns an object with .sample, unsquashed values on the [-1, 1] scale.
DIFFUSERS_MODEL = '''import torch
from dataclasses import dataclass
from torch import nn


class DiagonalGaussianDistribution:
    def __init__(self, parameters):
        self.parameters = parameters
        self.mean, self.logvar = torch.chunk(parameters, 2, dim=1)
        self.logvar = torch.clamp(self.logvar, -30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    def sample(self):
        return self.mean + self.std * torch.randn_like(self.mean)


@dataclass
class AutoencoderKLOutput:
    latent_dist: DiagonalGaussianDistribution


@dataclass
class DecoderOutput:
    sample: torch.Tensor


class AutoencoderKL(nn.Module):
    def __init__(self, in_channels=1, latent_channels=4, block_out_channels=(16, 32)):
        super().__init__()
        a, b = block_out_channels
        self.encoder = nn.Sequential(nn.Conv2d(in_channels, a, 4, 2, 1), nn.SiLU(), nn.Conv2d(a, b, 4, 2, 1), nn.SiLU(),
                                     nn.Conv2d(b, 2 * latent_channels, 3, 1, 1))
        self.decoder = nn.Sequential(nn.Conv2d(latent_channels, b, 3, 1, 1), nn.SiLU(),
                                     nn.ConvTranspose2d(b, a, 4, 2, 1), nn.SiLU(),
                                     nn.ConvTranspose2d(a, in_channels, 4, 2, 1))

    def encode(self, x, return_dict=True):
        posterior = DiagonalGaussianDistribution(self.encoder(x))
        return AutoencoderKLOutput(latent_dist=posterior) if return_dict else (posterior,)

    def decode(self, z, return_dict=True):
        dec = self.decoder(z)
        return DecoderOutput(sample=dec) if return_dict else (dec,)
'''

# A model whose decoder never leaves [0.2, 0.8]: its output kind cannot be told from a run.
SQUASHED_MODEL = '''import torch
from torch import nn


class Squashed(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 8)
        self.dec = nn.Linear(4, 784)

    def encode(self, x):
        return self.enc(x.flatten(1)).chunk(2, dim=1)

    def decode(self, z):
        return 0.2 + 0.6 * torch.sigmoid(self.dec(z))
'''
