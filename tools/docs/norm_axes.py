"""Draw docs/assets/norm-axes.svg: which values BatchNorm, LayerNorm, GroupNorm and
InstanceNorm average over, for an activation block [N, C, H, W].

Each block is drawn as a box of cells: channels C run left to right, the positions
H×W (flattened into one axis) run bottom to top, and the samples N run into the page.
The shaded cells are ONE set of values that share a mean and a variance:

* BatchNorm: one channel, over every sample and position   -> (N, H, W) per channel
* LayerNorm: one sample, over every channel and position   -> (C, H, W) per sample
* GroupNorm: one sample, one group of channels (here 2 groups of 3)
                                                           -> (C/G, H, W) per sample and group
* InstanceNorm: one sample, one channel                    -> (H, W) per sample and channel

Plain Python, no dependencies; writes the SVG by hand so that the file diffs readably.

Run:  python3 tools/docs/norm_axes.py   (from the repo root)
"""

import pathlib

OUT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "assets" / "norm-axes.svg"

C, HW, N = 6, 5, 4          # cells along each axis
CW, CH = 22, 18             # a front cell's width and height
DX, DY = 13, -10            # one step into the page (one sample further back)
GROUPS = 2                  # GroupNorm's G in the picture

SHADE = {"front": "#3b75af", "top": "#6d9bd1", "side": "#2a5a8c"}
PLAIN = {"front": "#ffffff", "top": "#eef1f5", "side": "#dde3ea"}
STROKE = "#4a4a4a"

PANELS = [
    ("BatchNorm", "mean over (N, H, W)", "one set per channel",
     lambda n, c: c == 0),
    ("LayerNorm", "mean over (C, H, W)", "one set per sample",
     lambda n, c: n == 0),
    ("GroupNorm", "mean over (C/G, H, W)", "one set per sample and group",
     lambda n, c: n == 0 and c < C // GROUPS),
    ("InstanceNorm", "mean over (H, W)", "one set per sample and channel",
     lambda n, c: n == 0 and c == 0),
]

PANEL_W, HEIGHT = 230, 286


def poly(points, face, shaded):
    fill = (SHADE if shaded else PLAIN)[face]
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polygon points="{pts}" fill="{fill}" stroke="{STROKE}" stroke-width="0.8"/>'


def text(x, y, s, size=13, anchor="middle", weight="normal", style="normal", rotate=0):
    turn = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" font-style="{style}"{turn}>{s}</text>')


def block(x0, y0, shaded):
    """The box with its front-top-left corner at (x0, y0); shaded(n, c) says whether
    the cells of sample n, channel c (every position) belong to the averaged set."""
    out = []
    # Top face: channel c at depth n (the top row of positions of every sample).
    for n in reversed(range(N)):
        for c in range(C):
            x, y = x0 + c * CW + n * DX, y0 + n * DY
            out.append(poly([(x, y), (x + CW, y), (x + CW + DX, y + DY), (x + DX, y + DY)],
                            "top", shaded(n, c)))
    # Right face: the last channel of sample n, position row j.
    for n in reversed(range(N)):
        for j in range(HW):
            x, y = x0 + C * CW + n * DX, y0 + j * CH + n * DY
            out.append(poly([(x, y), (x + DX, y + DY), (x + DX, y + DY + CH), (x, y + CH)],
                            "side", shaded(n, C - 1)))
    # Front face: sample 0, channel c, position row j.
    for c in range(C):
        for j in range(HW):
            x, y = x0 + c * CW, y0 + j * CH
            out.append(poly([(x, y), (x + CW, y), (x + CW, y + CH), (x, y + CH)],
                            "front", shaded(0, c)))
    return out


def axes(x0, y0):
    """Axis labels: C along the bottom edge, H×W up the left edge, N into the page."""
    out = []
    bottom = y0 + HW * CH
    out.append(f'<line x1="{x0}" y1="{bottom + 8}" x2="{x0 + C * CW}" y2="{bottom + 8}" '
               f'stroke="{STROKE}" marker-end="url(#arrow)"/>')
    out.append(text(x0 + C * CW / 2, bottom + 23, "C", style="italic"))
    out.append(f'<line x1="{x0 - 8}" y1="{bottom}" x2="{x0 - 8}" y2="{y0}" '
               f'stroke="{STROKE}" marker-end="url(#arrow)"/>')
    out.append(text(x0 - 13, y0 + HW * CH / 2, "H×W", style="italic", rotate=-90))
    tip_x, tip_y = x0 + N * DX - 4, y0 + N * DY - 6
    out.append(f'<line x1="{x0 - 4}" y1="{y0 - 6}" x2="{tip_x}" y2="{tip_y}" '
               f'stroke="{STROKE}" marker-end="url(#arrow)"/>')
    out.append(text(tip_x + 4, tip_y - 3, "N", anchor="start", style="italic"))
    return out


def main():
    width = PANEL_W * len(PANELS)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" '
        f'fill="#222">',
        "<title>Which values each normalisation averages over</title>",
        "<desc>Four boxes of an activation block [N, C, H, W]: channels left to right, "
        "positions top to bottom, samples into the page. The shaded cells share one mean "
        "and variance: BatchNorm shades one channel through every sample, LayerNorm one "
        "whole sample, GroupNorm half the channels of one sample, InstanceNorm one channel "
        "of one sample.</desc>",
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" '
        f'fill="{STROKE}"/></marker></defs>',
        f'<rect width="{width}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for i, (name, over, per, shaded) in enumerate(PANELS):
        x0 = i * PANEL_W + (PANEL_W - C * CW - N * DX) / 2 + 8
        y0 = 96
        parts.append(f'<g id="{name.lower()}">')
        parts.append(text(i * PANEL_W + PANEL_W / 2, 24, name, size=16, weight="bold"))
        parts.extend(block(x0, y0, shaded))
        parts.extend(axes(x0, y0))
        parts.append(text(i * PANEL_W + PANEL_W / 2, 230, over, size=13))
        parts.append(text(i * PANEL_W + PANEL_W / 2, 247, per, size=12, style="italic"))
        parts.append("</g>")
    parts.append(text(width / 2, 274,
                      "shaded: the values that share one mean and one variance "
                      f"(GroupNorm drawn with G = {GROUPS})", size=12))
    parts.append("</svg>")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(OUT.parents[2])}")


if __name__ == "__main__":
    main()
