"""Command-line tools: crossglg-data, crossglg-describe."""
