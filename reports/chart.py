"""The report's chart: delivered (stacked under failed) per bucket, drawn locally as a PNG with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

WIDTH_PX = 720
HEIGHT_PX = 300
MARGIN_LEFT_PX = 64
MARGIN_RIGHT_PX = 16
MARGIN_TOP_PX = 52
MARGIN_BOTTOM_PX = 44
MAX_X_LABELS = 8
Y_TICKS = 4

BACKGROUND = (255, 255, 255)
AXIS = (120, 120, 120)
GRID = (232, 232, 232)
TEXT = (40, 40, 40)
DELIVERED = (46, 139, 87)
FAILED = (214, 48, 49)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _tick_step(largest: int) -> int:
    """The smallest round step (1, 2, 2.5 or 5 × 10ⁿ, whole) with Y_TICKS steps reaching `largest`."""
    needed = max(1, largest) / Y_TICKS
    magnitude = 1
    while magnitude * 10 <= needed:
        magnitude *= 10
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= needed and step == int(step):
            return int(step)
    return 10 * magnitude


def chart_png(*, series: list[dict], title: str) -> bytes:
    """A bar chart of `series` ([{label, delivered, failed}]) with a legend and a labelled y axis."""
    image = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, regular = _font(11), _font(13)
    plot_left, plot_right = MARGIN_LEFT_PX, WIDTH_PX - MARGIN_RIGHT_PX
    plot_top, plot_bottom = MARGIN_TOP_PX, HEIGHT_PX - MARGIN_BOTTOM_PX

    draw.text((plot_left, 8), title, fill=TEXT, font=regular)
    for offset, (colour, name) in enumerate(((DELIVERED, "Delivered"), (FAILED, "Failed"))):
        x = plot_left + offset * 90
        draw.rectangle((x, 30, x + 10, 40), fill=colour)
        draw.text((x + 14, 28), name, fill=TEXT, font=small)

    step = _tick_step(max((item["delivered"] + item["failed"] for item in series), default=0))
    top_value = step * Y_TICKS
    for tick in range(Y_TICKS + 1):
        y = plot_bottom - round(tick / Y_TICKS * (plot_bottom - plot_top))
        draw.line((plot_left, y, plot_right, y), fill=GRID if tick else AXIS)
        draw.text((plot_left - 6, y), f"{tick * step:,}", fill=TEXT, font=small, anchor="rm")
    draw.line((plot_left, plot_top, plot_left, plot_bottom), fill=AXIS)

    if series:
        slot = (plot_right - plot_left) / len(series)
        bar_width = max(1, round(slot * 0.7))
        label_every = max(1, -(-len(series) // MAX_X_LABELS))
        for index, item in enumerate(series):
            x0 = round(plot_left + index * slot + (slot - bar_width) / 2)
            x1 = x0 + bar_width - 1
            delivered_px = round(item["delivered"] / top_value * (plot_bottom - plot_top))
            failed_px = round(item["failed"] / top_value * (plot_bottom - plot_top))
            # A non-zero count always shows at least one pixel, so a single failure is visible.
            delivered_px = max(delivered_px, 1 if item["delivered"] else 0)
            failed_px = max(failed_px, 1 if item["failed"] else 0)
            if delivered_px:
                draw.rectangle((x0, plot_bottom - delivered_px, x1, plot_bottom - 1), fill=DELIVERED)
            if failed_px:
                top = plot_bottom - delivered_px - failed_px
                draw.rectangle((x0, top, x1, plot_bottom - delivered_px - 1), fill=FAILED)
            if index % label_every == 0:
                centre = round(plot_left + index * slot + slot / 2)
                draw.text((centre, plot_bottom + 8), item["label"], fill=TEXT, font=small, anchor="mt")

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
