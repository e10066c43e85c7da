"""Alert thresholds, alert state, Telegram binding and notices."""
