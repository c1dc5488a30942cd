"""PyQt6 widgets of the app; thin views over demo.pipeline and demo.store."""
