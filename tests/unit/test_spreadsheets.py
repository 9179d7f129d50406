"""Reading uploaded spreadsheets in bounded memory, and writing ours so that no cell runs as a formula."""
import codecs
import csv
import io
import tempfile

import pytest
from openpyxl import Workbook, load_workbook

from plumbing.spreadsheets import UnreadableFile, append_row, check_archive, csv_bytes, read_rows, safe_cell
from support.files import expanding_xlsx, xlsx


def spooled(content: bytes):
    """The upload as werkzeug hands it over for a large file: a temporary file on disk."""
    stream = tempfile.TemporaryFile()
    stream.write(content)
    stream.seek(0)
    return stream


def rows_of(content: bytes, max_rows: int = 100) -> list[list[str]]:
    return [cells for _, cells in read_rows(spooled(content), max_rows)]


def test_a_csv_is_read_in_any_of_the_encodings_french_spreadsheets_write():
    text = "Nom;Commune\nBénédicte;Lézignan-Corbières\n"
    for content in (text.encode("utf-8-sig"), text.encode("utf-8"), text.encode("cp1252"),
                    codecs.BOM_UTF16_LE + text.encode("utf-16-le")):
        assert rows_of(content) == [["Nom", "Commune"], ["Bénédicte", "Lézignan-Corbières"]], content[:4]
    assert rows_of(b"Nom,Commune\n\n  Ana , Sete \n") == [["Nom", "Commune"], ["Ana", "Sete"]]
    assert rows_of("Nom\nBénédicte\n".encode() + "Hélène\n".encode("cp1252")) == [["Nom"], ["Bénédicte"], ["Hélène"]]
    assert rows_of(b'Nom;Note\nAna;"sur\ndeux lignes"\n') == [["Nom", "Note"], ["Ana", "sur\ndeux lignes"]]
    assert rows_of(b"") == []
    with pytest.raises(UnreadableFile, match="une ligne dépasse 1024 Ko"):
        rows_of(b"Nom;Commune\n" + b"x" * 2_000_000)


def test_reading_stops_at_the_first_row_past_the_limit():
    lines = b"Nom;Commune\n" + b"".join(b"personne-%d;Narbonne\n" % n for n in range(1_000_000))  # 25 MB
    stream = spooled(lines)
    read = []
    with pytest.raises(UnreadableFile) as refused:
        for number, _ in read_rows(stream, max_rows=10):
            read.append(number)
    assert refused.value.rule == "too_many_rows"
    assert str(refused.value) == "Le fichier compte plus de 10 lignes : découpez-le en plusieurs fichiers."
    assert read == list(range(1, 12))  # the header and 10 rows
    assert stream.tell() < 1024 * 1024  # the rest of the file was never read
    assert len(rows_of(b"Nom\n" + b"a\n" * 10, max_rows=10)) == 11  # exactly the limit is fine


def test_an_xlsx_is_read_row_by_row_and_its_blank_rows_skipped():
    content = xlsx([["Nom", "Né le"], [None, None], ["Ana", 12.0]], title="Participants")
    assert [(n, cells) for n, cells in read_rows(spooled(content), 10, "Participants")] == [
        (1, ["Nom", "Né le"]), (3, ["Ana", "12"])]
    with pytest.raises(UnreadableFile, match="plus de 1 lignes"):
        rows_of(xlsx([["Nom"], ["a"], ["b"]]), max_rows=1)


def test_an_archive_that_expands_too_much_is_refused_before_any_parsing():
    with pytest.raises(UnreadableFile) as refused:
        rows_of(expanding_xlsx(200))
    assert refused.value.rule == "file_too_large"
    assert str(refused.value).startswith("Fichier XLSX trop volumineux une fois décompressé (plus de 20 Mo")
    with pytest.raises(UnreadableFile, match="trop volumineux"):  # under 20 MB, but 1,000 times denser than a sheet
        check_archive(spooled(expanding_xlsx(5)))
    check_archive(spooled(xlsx([["Nom"]] * 10_000)))  # a real sheet passes
    with pytest.raises(UnreadableFile, match="Fichier XLSX illisible"):
        rows_of(b"PK\x03\x04 not really a zip")


def test_a_nul_character_is_refused_with_the_line_that_holds_it():
    with pytest.raises(UnreadableFile) as refused:
        rows_of(b"Nom;Commune\nAna;Se\x00te\n")
    assert str(refused.value).startswith("Ligne 2 : un caractère nul (U+0000) n'est pas accepté.")


@pytest.mark.parametrize("value, written", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"),
    ("-35,5", "-35,5"), ("+12", "+12"), ("-7.25", "-7.25"),  # plain numbers run nothing
    ("Carcassonne", "Carcassonne"), ("a=b", "a=b"), ("", ""), (-3, -3), (12.5, 12.5)])
def test_a_cell_that_a_spreadsheet_would_run_is_written_as_text(value, written):
    assert safe_cell(value) == written
    read = list(csv.reader(io.StringIO(csv_bytes([[value]]).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert read == [[str(written)]]


def test_an_xlsx_cell_that_looks_like_a_formula_stays_text():
    workbook = Workbook()
    append_row(workbook.active, ["=cmd|' /C calc'!A0", "-1+1", "Ana", 3, -4])
    out = io.BytesIO()
    workbook.save(out)
    cells = list(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())[0]
    assert [(c.value, c.data_type) for c in cells] == [
        ("=cmd|' /C calc'!A0", "s"), ("-1+1", "s"), ("Ana", "s"), (3, "n"), (-4, "n")]
    assert [c.quotePrefix for c in cells] == [True, True, False, False, False]  # edited, it stays text
