"""The report's chart: delivered (stacked under failed) per bucket, drawn locally as a PNG with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

WIDTH_PX = 720
HEIGHT_PX = 300
MARGIN_LEFT_PX = 64
MARGIN_RIGHT_PX = 16
MARGIN_TOP_PX = 40
MARGIN_BOTTOM_PX = 44
MAX_X_LABELS = 8

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


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so the axis reads in round numbers."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def chart_png(*, series: list[dict], title: str) -> bytes:
    """A bar chart of `series` ([{label, delivered, failed}]) with a legend and a labelled y axis."""
    image = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, regular = _font(11), _font(13)
    plot_left, plot_right = MARGIN_LEFT_PX, WIDTH_PX - MARGIN_RIGHT_PX
    plot_top, plot_bottom = MARGIN_TOP_PX, HEIGHT_PX - MARGIN_BOTTOM_PX

    draw.text((plot_left, 10), title, fill=TEXT, font=regular)
    legend_x = plot_right - 170
    for offset, (colour, name) in enumerate(((DELIVERED, "Delivered"), (FAILED, "Failed"))):
        x = legend_x + offset * 90
        draw.rectangle((x, 13, x + 10, 23), fill=colour)
        draw.text((x + 14, 11), name, fill=TEXT, font=small)

    top_value = _nice_ceiling(max((item["delivered"] + item["failed"] for item in series), default=0))
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = plot_bottom - round(fraction * (plot_bottom - plot_top))
        draw.line((plot_left, y, plot_right, y), fill=GRID if fraction else AXIS)
        label = f"{round(top_value * fraction):,}"
        draw.text((plot_left - 6, y), label, fill=TEXT, font=small, anchor="rm")
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
