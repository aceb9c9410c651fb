"""Routes into a portable bundle: a PyTorch module (`torch`), a pythae folder (`pythae`), an ONNX pair (`onnx`)."""
