"""Fine-tuning: one recipe dataclass per method (recipes.py) and the training loop (sft.py).

Training libraries (trl, peft, bitsandbytes) are imported lazily: they cost seconds to import
and the app must start fast."""
