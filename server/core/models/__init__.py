"""Models: the catalogue (torchvision's architectures and the course's), a student's ONNX file, and trained
weights from safetensors, all as networks of the layer registry's layers."""
