"""Writes of the callbacks app. Views, admin, screens and tasks call these; they hold the rules."""
