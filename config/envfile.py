"""Write `.env` with fresh secrets, once: `python -m config.envfile .env`. Never overwrites a file.

Losing FIELD_ENCRYPTION_KEYS loses every stored secret, so an existing `.env` is always kept.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

TEMPLATE = """\
# Callback Center settings (see docs/configuration.md for every variable). Keep this file: the
# FIELD_ENCRYPTION_KEYS below decrypt every stored secret.
SECRET_KEY={secret_key}
FIELD_ENCRYPTION_KEYS={field_key}
DEBUG=false
ALLOWED_HOSTS={allowed_hosts}
SITE_URL={site_url}
# Served over https (HSTS, secure cookies, redirect to https): see docs/security.md.
HTTPS={https}
{proxy_lines}# CALLBACKS_ALLOW_HTTP=false
# CALLBACKS_ALLOW_PRIVATE_NETWORKS=false
# DATABASE_URL=postgres://user:password@127.0.0.1:5432/callbacks
# REDIS_URL=redis://127.0.0.1:6379/0
# EMAIL_URL=smtp+tls://user:password@smtp.example.com:587
# TELEGRAM_BOT_TOKEN=
# TELEGRAM_BOT_USERNAME=
# TELEGRAM_WEBHOOK_SECRET={telegram_secret}
"""


def envfile_write(path: Path, *, site_url: str = "http://127.0.0.1:8000") -> bool:
    """Write a fresh `.env` at `path` unless one exists; returns whether it wrote one."""
    if path.exists():
        return False
    parts = urlsplit(site_url)
    https = parts.scheme == "https"
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    if parts.hostname and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        hosts.insert(0, parts.hostname)
    proxy_lines = (
        f"CSRF_TRUSTED_ORIGINS={parts.scheme}://{parts.netloc}\n"
        "# Behind a TLS-terminating proxy that sets X-Forwarded-Proto and X-Forwarded-For:\n"
        "# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https\n"
        "# TRUSTED_PROXY_COUNT=1\n"
        if https
        else ""
    )
    content = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50),
        field_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        telegram_secret=secrets.token_urlsafe(32),
        site_url=site_url,
        allowed_hosts=",".join(hosts),
        https="true" if https else "false",
        proxy_lines=proxy_lines,
    )
    path.write_text(content)
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    address = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8000"
    if envfile_write(target, site_url=address):
        print(f"Wrote {target} with fresh secrets. Keep it: it holds the key to every stored secret.")
