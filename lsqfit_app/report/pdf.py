"""The fit report as PDF, laid out with reportlab.

Same content as the HTML report.  Text uses the DejaVu fonts that ship with
matplotlib (so χ², σ, ≤ and superscripts print, and the text matches the
figures).  Figures are vector graphics: reportlab lays out a slot of each
figure's size, and after layout the figure, drawn by matplotlib as PDF, is
stamped into its slot with pypdf (reportlab cannot embed PDF pages itself).
The formula is typeset with mathtext at 300 dpi.
Headings stay with what follows them, figures stay with their captions,
long tables repeat their header row on the next page, and every page has a
footer with the input file and the page number.
"""
from __future__ import annotations

import functools
import io
import os

from lsqfit_app.report import content as C
from lsqfit_app.core.spreadsheet import clean_text
from lsqfit_app.report.figures import report_figures
from lsqfit_app.report.files import write_bytes_atomic
from lsqfit_app.report.mathtext import formula_math, render_lines

FIGURE_DPI = 300
# no italic face: the report sets no italic text (each face costs ~3 MB once loaded)
_FONTS = {"": "DejaVuSans.ttf", "-Bold": "DejaVuSans-Bold.ttf", "-Mono": "DejaVuSansMono.ttf"}
_registered = False


def _register_fonts() -> str:
    """Register matplotlib's DejaVu fonts with reportlab once; the family name."""
    global _registered
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not _registered:
        import matplotlib

        folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
        for suffix, file in _FONTS.items():
            pdfmetrics.registerFont(TTFont(f"DejaVuSans{suffix}", os.path.join(folder, file)))
        addMapping("DejaVuSans", 0, 0, "DejaVuSans")
        addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
        addMapping("DejaVuSans", 0, 1, "DejaVuSans")
        addMapping("DejaVuSans", 1, 1, "DejaVuSans-Bold")
        _registered = True
    return "DejaVuSans"


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    font = _register_fonts()
    ink, muted, accent = colors.HexColor("#1d1d1f"), colors.HexColor("#5f6368"), \
        colors.HexColor("#0072B2")
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, textColor=ink)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName="DejaVuSans-Bold", fontSize=17,
                                leading=21, spaceAfter=2),
        "sub": ParagraphStyle("sub", parent=base, textColor=muted, fontSize=8.5, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontName="DejaVuSans-Bold", fontSize=11.5,
                             leading=15, spaceBefore=10, spaceAfter=4, textColor=accent,
                             keepWithNext=1),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.2, leading=10),
        "cellr": ParagraphStyle("cellr", parent=base, fontSize=8.2, leading=10, alignment=2),
        "head": ParagraphStyle("head", parent=base, fontName="DejaVuSans-Bold", fontSize=8.2,
                               leading=10),
        "headr": ParagraphStyle("headr", parent=base, fontName="DejaVuSans-Bold",
                                fontSize=8.2, leading=10, alignment=2),
        "mono": ParagraphStyle("mono", parent=base, fontName="DejaVuSans-Mono", fontSize=7.4,
                               leading=9.5),
        "monor": ParagraphStyle("monor", parent=base, fontName="DejaVuSans-Mono", fontSize=7.4,
                                leading=9.5, alignment=2),
        "note": ParagraphStyle("note", parent=base, fontSize=8.5, leading=11, leftIndent=6,
                               borderPadding=(4, 4, 4, 6), backColor=colors.HexColor("#f1f7fc"),
                               spaceBefore=4, spaceAfter=6),
        "warn": ParagraphStyle("warn", parent=base, fontSize=9, leading=12, leftIndent=6,
                               borderPadding=(4, 4, 4, 6), backColor=colors.HexColor("#fff3e0"),
                               spaceBefore=4, spaceAfter=6),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=10,
                                  textColor=muted, spaceBefore=2, spaceAfter=8),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=muted),
    }


def _p(text, style):
    from reportlab.platypus import Paragraph
    from xml.sax.saxutils import escape

    return Paragraph(escape(clean_text(text)), style)


_CELL_PADDING = 8.0   # LEFTPADDING + RIGHTPADDING of _table's cells


def _natural_widths(t: C.TableData, st, size: float) -> list[float]:
    """Each column's width when no number and no word of a heading wraps, at font ``size``."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    body, head = st["cell"].fontName, st["head"].fontName
    widths = []
    for j, title in enumerate(t.header):
        words = [stringWidth(w, head, size) for w in str(title).split()] or [0.0]
        cells = [stringWidth(str(row[j]), body, size) for row in t.rows] or [0.0]
        widths.append(max(max(words), max(cells)) + _CELL_PADDING)
    return widths


def _fit_table(t: C.TableData, st, width: float):
    """(column widths, styles) that fit ``width`` without breaking a number or a word.

    The first column (a model's name) takes what is left and may wrap; when
    even that does not fit, the table is set in a smaller type.
    """
    from reportlab.lib.styles import ParagraphStyle

    for size in (8.2, 7.4, 6.6):
        natural = _natural_widths(t, st, size)
        rest = sum(natural[1:])
        first = min(natural[0], width - rest)
        if first >= min(natural[0], 70.0) or size == 6.6:
            first = max(first, 40.0)
            extra = max(0.0, width - rest - first) if natural[0] > first else 0.0
            styles = dict(st)
            if size != 8.2:
                for key in ("cell", "cellr", "head", "headr"):
                    styles[key] = ParagraphStyle(f"{key}{size}", parent=st[key], fontSize=size,
                                                 leading=size * 1.22)
            return [first + extra] + natural[1:], styles
    raise AssertionError("unreachable")  # the loop returns at the smallest size


def _table(t: C.TableData, st, col_widths=None, mono_cols=(), width=None):
    """A table; with ``width`` and no ``col_widths``, columns sized to their content."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    if col_widths is None and width is not None:
        col_widths, st = _fit_table(t, st, width)
    head = [_p(h, st["headr"] if a == "r" else st["head"]) for h, a in zip(t.header, t.align)]
    data = [head]
    for row in t.rows:
        data.append([_p(c, (st["monor"] if a == "r" else st["mono"]) if j in mono_cols else
                        (st["cellr"] if a == "r" else st["cell"]))
                     for j, (c, a) in enumerate(zip(row, t.align))])
    table = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#9aa3ad")),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.HexColor("#d9dce1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    for i, j in t.marks:
        style.append(("BACKGROUND", (j, i + 1), (j, i + 1), colors.HexColor("#fde2c8")))
    table.setStyle(TableStyle(style))
    return table


def _kv(rows, st, width):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    data = [[_p(k, st["small"]), _p(v, st["mono"] if k == "SHA-256" else st["cell"])]
            for k, v in rows]
    table = Table(data, colWidths=[28 * 2.835, width - 28 * 2.835], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#e3e6ea")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.8), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.8),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _image(data: bytes, dpi: float, max_width: float):
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    w, h = ImageReader(io.BytesIO(data)).getSize()
    width, height = w * 72.0 / dpi, h * 72.0 / dpi
    if width > max_width:
        height *= max_width / width
        width = max_width
    img = Image(io.BytesIO(data), width=width, height=height)
    img.hAlign = "LEFT"
    return img


@functools.lru_cache(maxsize=1)
def _slot_class():
    """A flowable that reserves a figure's space and records where it landed
    (made on first use: reportlab is imported only when a PDF is written)."""
    from reportlab.platypus import Flowable

    class FigureSlot(Flowable):
        def __init__(self, pdf: bytes, width: float, height: float, placed: list):
            super().__init__()
            self.pdf, self.width, self.height, self.placed = pdf, width, height, placed
            self.hAlign = "LEFT"

        def wrap(self, avail_width, avail_height):
            return self.width, self.height

        def draw(self):
            x, y = self.canv.absolutePosition(0, 0)
            self.placed.append((self.canv.getPageNumber() - 1, x, y, self.width, self.height,
                                self.pdf))

    return FigureSlot


def _figure_slot(figure, max_width: float, placed: list):
    width, height = (v * 72.0 for v in figure.size)
    if width > max_width:
        height *= max_width / width
        width = max_width
    return _slot_class()(figure.data, width, height, placed)


def _pdf_date(created: str) -> str | None:
    """A PDF date (``D:YYYYMMDDHHmmSS``, with ``+00'00'`` for UTC) of the report's time stamp."""
    import datetime as dt

    try:
        stamp = dt.datetime.strptime(created[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    zone = created[19:].strip()
    return "D:" + stamp.strftime("%Y%m%d%H%M%S") + ("+00'00'" if zone in ("UTC", "GMT") else "")


def _finish(document: bytes, placed: list, created: str) -> bytes:
    """Draw each recorded figure (a one-page PDF) into its slot, as vector graphics,
    and date the document when the report was made.

    reportlab, asked for a reproducible file, dates every document 2000-01-01;
    the report's own time stamp keeps the file reproducible from its context
    and tells a reader when it was made.

    Each figure page becomes a form XObject that its slot's page draws with
    one ``Do``: the figure's content stream is copied as it is, never parsed
    into operators (merging pages parses and renames them, which for a figure
    of a few thousand markers costs tens of MB).
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    for k, (page_index, x, y, width, height, pdf) in enumerate(placed, 1):
        figure = PdfReader(io.BytesIO(pdf)).pages[0]
        box = figure.mediabox
        # matplotlib writes one content stream per page
        form = figure.get_object().get("/Contents").get_object().clone(writer)
        form[NameObject("/Type")] = NameObject("/XObject")
        form[NameObject("/Subtype")] = NameObject("/Form")
        form[NameObject("/BBox")] = ArrayObject(
            FloatObject(v) for v in (box.left, box.bottom, box.right, box.top))
        form[NameObject("/Resources")] = figure["/Resources"].clone(writer).indirect_reference
        page = writer.pages[page_index]
        resources = page["/Resources"]
        if "/XObject" not in resources:
            resources[NameObject("/XObject")] = DictionaryObject()
        name = f"/LsqfitFigure{k}"
        resources["/XObject"][NameObject(name)] = form.indirect_reference
        sx, sy = width / float(box.width), height / float(box.height)
        place = (f"\nq {sx:.6f} 0 0 {sy:.6f} {x - float(box.left) * sx:.4f} "
                 f"{y - float(box.bottom) * sy:.4f} cm {name} Do Q\n").encode("ascii")
        content = ContentStream(None, writer)
        content.set_data(page.get_contents().get_data() + place)
        page.replace_contents(content)
        page.compress_content_streams()
    date = _pdf_date(created)
    if date is not None:
        writer.add_metadata({"/CreationDate": date, "/ModDate": date})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def report_story(result, problem, context, comparison, width, placed: list | None = None):
    """The flowables of the report; figure slots record their places in ``placed``."""
    from reportlab.platypus import KeepTogether, Spacer

    st = _styles()
    versions = ", ".join(f"{n} {v}" for n, v in context.versions)
    story = [_p(context.title, st["title"]),
             _p(f"{result.model_name}  ·  {context.created}  ·  {versions}", st["sub"])]
    notes = C.uncertainty_notes(result)
    if not result.converged:
        story.append(_p(notes.pop(0), st["warn"]))

    story += [_p("Data", st["h2"]), _kv(C.input_rows(context, problem), st, width)]
    masked = C.masked_table(context)
    if masked is not None:
        story += [Spacer(1, 4), _p("Masked points (left out of the fit)", st["small"]),
                  _table(masked, st, col_widths=[40] + [52] * (len(masked.header) - 2) + [220])]
    story += [_p(n, st["small"]) for n in context.notes]

    story.append(_p("Model", st["h2"]))
    lines = formula_math(result)
    images = render_lines(lines, "png", dpi=FIGURE_DPI, fontsize=12) if lines else None
    block = [_image(img, FIGURE_DPI, width) for img in images] if images else []
    block.append(_p(f"y = {result.formula}", st["mono"]))
    story.append(KeepTogether(block))

    story += [_p("Fit", st["h2"]), _kv(C.fit_rows(result, problem), st, width)]

    # widths that keep "[495.95, 498.00]" and "1.3×10⁻¹⁵³" on one line
    fixed_w = [62, 56, 104, 46, 58]
    name_w = min(130.0, (width - sum(fixed_w)) * 0.55)
    params = [_p("Parameters", st["h2"]),
              _table(C.parameter_table(result), st,
                     col_widths=[name_w] + fixed_w + [width - name_w - sum(fixed_w)])]
    params += [_p(n, st["note"]) for n in notes]
    story.append(KeepTogether(params))

    story += [_p("Goodness of fit", st["h2"]),
              _table(C.statistics_table(result), st, col_widths=[70, 80, width - 150])]
    corr = C.correlation_table(result)
    if corr is not None:
        ncol = len(corr.header)
        if max(len(h) for h in corr.header) > 10:
            # long names do not fit as column heads on paper: number them
            corr = C.TableData(("",) + tuple(f"({k})" for k in range(1, ncol)),
                               tuple((f"({k + 1}) {row[0]}",) + row[1:]
                                     for k, row in enumerate(corr.rows)),
                               corr.align, corr.marks, corr.notes)
        first = min(130.0, width / ncol * 1.6)
        rest = (width - first) / (ncol - 1)
        col_w = [first] + [min(rest, 80.0)] * (ncol - 1)
        block = [_p("Parameter correlations", st["h2"]), _table(corr, st, col_widths=col_w)]
        block += [_p(n, st["small"]) for n in corr.notes]
        story.append(KeepTogether(block))
    if comparison:
        story += [_p("Comparison", st["h2"]),
                  _table(C.comparison_table([result, *comparison]), st, width=width)]

    first_figure = True
    placed = [] if placed is None else placed
    for i, figure in enumerate(report_figures(result, problem, "pdf", comparison), 1):
        block = ([_p("Figures", st["h2"])] if first_figure else []) + [
            _figure_slot(figure, width, placed), _p(f"Figure {i}. {figure.caption}", st["caption"])]
        story.append(KeepTogether(block))
        first_figure = False

    story.append(KeepTogether([_p("Values at full precision", st["h2"]),
                               _table(C.full_precision_table(result), st,
                                      mono_cols=(1, 2, 3))]))
    return story


def write_pdf(result, problem, path, context, comparison=None) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    st = _styles()
    buf = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin,
                            topMargin=16 * mm, bottomMargin=18 * mm, title=context.title,
                            author="lsqfit-app", subject=result.model_name,
                            creator="lsqfit-app", invariant=1)
    source = context.source_name or "data given in code"

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont(st["small"].fontName, 7.5)
        canvas.setFillColor(st["small"].textColor)
        canvas.drawString(margin, 10 * mm, clean_text(
            f"{context.title} — {source} — {result.model_name}"[:120]).replace("\n", " "))
        canvas.drawRightString(A4[0] - margin, 10 * mm, f"page {doc_.page}")
        canvas.restoreState()

    placed: list = []
    doc.build(report_story(result, problem, context, comparison, doc.width, placed),
              onFirstPage=footer, onLaterPages=footer)
    write_bytes_atomic(path, _finish(buf.getvalue(), placed, context.created))
