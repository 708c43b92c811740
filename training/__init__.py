"""Fine-tuning and evaluation: speechocean762 datasets, the LoRA trainer, metrics, and the tiny
checkpoint used by tests and smoke runs."""
