"""How alerts and notices reach people: e-mail (Django's mail backend) and Telegram lives in `alerts.telegram`."""
