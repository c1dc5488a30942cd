"""CrossGLG Live: the Qt-free live pipeline (capture, pose, windows, recognition), the gallery store,
the headless recognizer and the PyQt6 app. Only ``demo.app`` and ``demo.ui`` import Qt."""
