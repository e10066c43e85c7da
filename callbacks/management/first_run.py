"""The logins that the first run creates, kept until the server is up and printed last, in a box.

`bootstrap --logins-later` saves them to a file readable by its owner only; `serve` prints them once
the web server answers and the task cluster runs, then deletes the file: shown once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

BOX_MIN_WIDTH = 60


@dataclass(frozen=True)
class Login:
    who: str
    username: str
    password: str


def logins_file_default() -> Path:
    return Path(settings.BASE_DIR) / ".first-run-logins"


def logins_save(logins: list[Login], path: Path) -> None:
    """Add `logins` to those waiting in `path` (created readable by its owner only)."""
    waiting = logins_read(path)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps([asdict(login) for login in [*waiting, *logins]]))


def logins_read(path: Path) -> list[Login]:
    try:
        return [Login(**item) for item in json.loads(path.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        return []


def logins_pop(path: Path) -> list[Login]:
    logins = logins_read(path)
    path.unlink(missing_ok=True)
    return logins


def logins_box(*, address: str, logins: list[Login]) -> str:
    """The closing words of a first run: where to sign in and with what, framed so they stand out."""
    lines = [f"Callback Center is ready: {address}", ""]
    if logins:
        for login in logins:
            lines += [login.who, f"  user name: {login.username}", f"  password:  {login.password}"]
        lines += ["", "Shown this once: change a password under Password once signed in."]
    else:
        lines += [
            "Sign in with the logins printed on the first run.",
            "Forgot one? python manage.py changepassword <user name>",
        ]
    width = max(BOX_MIN_WIDTH, *(len(line) for line in lines))
    return "\n".join(
        ["╔" + "═" * (width + 2) + "╗", *(f"║ {line.ljust(width)} ║" for line in lines), "╚" + "═" * (width + 2) + "╝"]
    )
