"""Portable bundles: a VAE as two ONNX graphs (encoder, decoder), opened without running user code.

`spec` names the graphs' contract, `onnx_check` validates a graph against it, `onnx_bounds` bounds
its loops and tensors, `runtime` runs a pair with onnxruntime behind the native models' encode/decode
contract, `export` turns PyTorch modules into such a pair, `importers/` bring models in from PyTorch,
pythae and other frameworks, and `pipeline` runs a whole import (`vae-lab import`,
vae/cli/import_model.py, parses and prints).
"""
