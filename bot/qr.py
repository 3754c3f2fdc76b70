"""QR codes as PNG bytes in memory (join links, check-in links), drawn with segno."""

from __future__ import annotations

from io import BytesIO

import segno


def qr_png(data: str, *, scale: int = 10, border: int = 4) -> bytes:
    """A PNG of the QR code of `data`; medium error correction survives a projector's glare."""
    buffer = BytesIO()
    segno.make(data, error="m", micro=False).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
