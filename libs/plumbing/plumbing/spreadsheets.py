"""CSV and XLSX files: read the ones people upload in bounded memory and time, and write ours so that
no cell can run as a formula in the spreadsheet that opens it.

Reading streams the uploaded file (werkzeug has already spooled it to disk): a CSV line by line; an XLSX with openpyxl's read-only mode, after its zip directory has shown that
it does not expand beyond what a real sheet needs. Either stops at the first row over the limit.

Writing goes through ``safe_cell`` (OWASP's CSV injection advice): text starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading ``'``, unless it is a plain number
(``-12``, ``+35,5``), which no spreadsheet runs. Numbers we write as numbers stay numbers. In XLSX
such text is written as text, never as a formula, with Excel's "quote prefix" so that editing the
cell keeps it text; the value itself is left as it was.
"""
import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import BinaryIO

from openpyxl import Workbook, load_workbook

from .storable import unstorable_text

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A 10,000-row sheet is 3 to 7 MB of XML. openpyxl reads a whole sheet that lacks its <dimension> before
# the first row, and all shared strings at once: this bounds that time and memory too.
MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed size of one member; real sheets stay well under 20
RATIO_GRACE_BYTES = 100 * 1024  # small members may compress very well (Apache POI's grace size too)
MAX_LINE_BYTES = 1024 * 1024  # a CSV line; real ones are well under 1 kB


class UnreadableFile(Exception):
    """The file cannot be taken as it is; the message is French, ``rule`` names why."""

    def __init__(self, message: str, rule: str = "unreadable_file"):
        super().__init__(message)
        self.rule = rule


# --- reading ----------------------------------------------------------------------------------
def read_rows(stream: BinaryIO, max_rows: int, sheet_name: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows of a CSV or XLSX file as (line number, stripped cells), the header first.

    Refuses (UnreadableFile) as soon as a row past ``max_rows`` data rows comes, an XLSX that expands
    too much, a file that is not one of the two, and a cell the database could not store (a NUL
    character: often a UTF-16 file without its byte order mark)."""
    stream.seek(0)
    is_xlsx = stream.read(4) == b"PK\x03\x04"
    stream.seek(0)
    rows = _xlsx_rows(stream, sheet_name) if is_xlsx else _csv_rows(stream)
    data_rows = 0
    for number, cells in enumerate(rows, start=1):
        if not any(cells):
            continue
        for cell in cells:
            reason = unstorable_text(cell)
            if reason:
                raise UnreadableFile(f"Ligne {number} : {reason} Enregistrez le fichier au format CSV UTF-8 "
                                     "ou XLSX depuis votre tableur, ou partez du modèle.", "unreadable_file")
        if data_rows > max_rows:  # the header was the first non-blank row
            raise UnreadableFile(f"Le fichier compte plus de {max_rows} lignes : découpez-le en plusieurs "
                                 "fichiers.", "too_many_rows")
        data_rows += 1
        yield number, cells


def _xlsx_rows(stream: BinaryIO, sheet_name: str | None) -> Iterator[list[str]]:
    check_archive(stream)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - whatever the reason, not a workbook we can read
        raise UnreadableFile("Fichier XLSX illisible : enregistrez-le à nouveau depuis votre tableur, "
                             "ou utilisez le modèle.") from None
    try:
        sheet = workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_text(value) for value in row]
    except UnreadableFile:
        raise
    except Exception:  # noqa: BLE001 - a sheet whose XML breaks half-way
        raise UnreadableFile("Fichier XLSX illisible : enregistrez-le à nouveau depuis votre tableur, "
                             "ou utilisez le modèle.") from None
    finally:
        workbook.close()


def check_archive(stream: BinaryIO, max_bytes: int = MAX_UNCOMPRESSED_BYTES, max_ratio: int = MAX_RATIO) -> None:
    """Refuse an XLSX whose zip expands too much, from its directory alone (nothing is inflated).
    zipfile never inflates a member past the size its directory declares, so the check holds."""
    try:
        members = zipfile.ZipFile(stream).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableFile("Fichier XLSX illisible : enregistrez-le à nouveau depuis votre tableur, "
                             "ou utilisez le modèle.") from None
    too_dense = any(m.file_size > RATIO_GRACE_BYTES and m.file_size > max_ratio * max(m.compress_size, 1)
                    for m in members)
    if too_dense or sum(m.file_size for m in members) > max_bytes:
        raise UnreadableFile(f"Fichier XLSX trop volumineux une fois décompressé (plus de {max_bytes // 2**20} "
                             "Mo, ou anormalement compressé) : enregistrez seulement les lignes à déclarer, "
                             "ou découpez le fichier.", "file_too_large")
    stream.seek(0)


def _text(value) -> str:
    """A cell as text: dates as YYYY-MM-DD, integral numbers without « .0 »."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _csv_rows(stream: BinaryIO) -> Iterator[list[str]]:
    lines = _utf16_lines(stream) if stream.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else _lines(stream)
    first = next(lines, "")
    delimiter = max((";", ",", "\t"), key=first.count)
    try:
        for row in csv.reader(itertools.chain([first], lines), delimiter=delimiter):
            yield [cell.strip() for cell in row]
    except csv.Error:  # unbalanced quotes, or a cell over the csv module's 128 KB
        raise UnreadableFile("Fichier CSV illisible : vérifiez les guillemets, ou utilisez le modèle.") from None


def _lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines, each decoded as UTF-8 when it is, else as Windows-1252 (what older French
    spreadsheets write): decided line by line, so that reading never needs the whole file."""
    stream.seek(0)
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES:
            raise UnreadableFile(f"Fichier CSV illisible : une ligne dépasse {MAX_LINE_BYTES // 1024} Ko. "
                                 "Vérifiez les guillemets, ou utilisez le modèle.")
        try:
            yield raw.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            yield raw.decode("cp1252", errors="replace")


def _utf16_lines(stream: BinaryIO) -> Iterator[str]:
    """A UTF-16 file (Excel's « texte Unicode »), its byte order mark read."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-16", newline="")
    try:
        while line := text.readline(MAX_LINE_BYTES):
            yield line
    finally:
        if not stream.closed:
            text.detach()  # else closing the wrapper would close the upload's stream, which is not ours


# --- writing ----------------------------------------------------------------------------------
_RISKY_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def risky(value) -> bool:
    """Text a spreadsheet could take for a formula."""
    return isinstance(value, str) and value.startswith(_RISKY_START) and not _PLAIN_NUMBER.fullmatch(value)


def safe_cell(value):
    """A CSV cell no spreadsheet runs: risky text gets a leading « ' »; anything else is left as it is."""
    return "'" + value if risky(value) else value


def csv_bytes(rows: Iterable[Iterable]) -> bytes:
    """A CSV as French spreadsheets open it: « ; » between cells, UTF-8 with a byte order mark."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def append_row(sheet, values: Iterable) -> None:
    """Append a row to an openpyxl sheet; text is always text, never a formula."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and (cell.data_type == "f" or risky(cell.value)):
            cell.data_type = "s"
            cell.quotePrefix = True  # editing the cell in a spreadsheet keeps it text


def xlsx_bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
