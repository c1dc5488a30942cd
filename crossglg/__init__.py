"""CrossGLG: LLM-guided skeleton encoders for one-shot action recognition."""

__version__ = "0.1.0"
