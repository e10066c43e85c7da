"""Render: from a profile and its events to the request as sent (`request`), with placeholders filled
(`templating`), chosen parameters encrypted (`encryption`) and the body or target signed (`signing`)."""
