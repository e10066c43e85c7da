"""`make bench` and `make chaos`: the harness (throw-away databases, real qcluster and gunicorn
processes), the receivers (nginx, scripted and slow servers) and the scenarios they run."""
