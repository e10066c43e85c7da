"""Writes of the alerts app. The API, the screens, the signal receivers and the tasks call these."""
