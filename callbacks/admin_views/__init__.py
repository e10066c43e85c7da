"""The configuration screens' own views and helpers (the Django admin, branded Callback Center)."""
