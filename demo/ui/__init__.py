"""PyQt6 widgets of the app; thin views over demo.live (the pipeline) and demo.store."""
