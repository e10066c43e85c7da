"""What one request came to: the transport's answer to the engine, which decides what it means."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TransportResult:
    """What happened to one request. `status` is None when no HTTP answer came (see error_class)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased
    body: bytes = b""
    body_truncated: bool = False
    duration_ms: int = 0
    started_at: float = 0.0  # time.time()
    error_class: str = ""
    error_detail: str = ""

    @property
    def answered(self) -> bool:
        return self.status is not None
