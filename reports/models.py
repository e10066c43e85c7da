"""Report subscriptions and sent reports."""
