"""Project package shipped inside every function's deployment zip (second source_path)."""
