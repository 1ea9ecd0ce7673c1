"""The registry administrators keep: recognised training programs and jurisdiction rules."""
