"""Peak memory and time of reading uploaded declaration files, as the hours web app reads them.

    .venv/bin/python bench/upload_memory.py

Each case runs in a fresh process: the file is written to a temporary file first (as werkzeug spools
an upload to disk), then read with ``hours.spreadsheets.read_lines`` and the default row limit. Prints
the peak of Python allocations while reading (tracemalloc) and the process's peak resident size, and
what it was before reading (the time is measured without tracemalloc). Cases: a CSV of about 93 MB and an XLSX of
a million rows, as in issue 12 (over the row limit, so refused), a 0.2 MB XLSX expanding to 200 MB (refused from its zip directory), and files of exactly
10,000 rows (allowed).
"""
import io
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile

ROW = ["lot-ecole-1", "participant-{n}", "2026-03", "151,67", "Embauche directe", "", "CDD"]  # 62 bytes
HEADER = ["Lot", "Référence du participant", "Mois", "Heures", "Modalité", "SIRET de l'employeur", "Type de contrat"]


def csv_file(path: str, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(";".join(HEADER) + "\n")
        line = ";".join(ROW) + "\n"
        for n in range(rows):
            out.write(line.replace("{n}", str(n)))


def xlsx_file(path: str, rows: int) -> None:
    """A workbook as openpyxl writes it (inline strings: slower to read than Excel's shared strings)."""
    from openpyxl import Workbook
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Déclarations")
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append([value.replace("{n}", str(n)) for value in ROW])
    workbook.save(path)


def numbers_xlsx_file(path: str, rows: int) -> None:
    """A real workbook whose sheet is rewritten with ``rows`` rows of one number each, made in seconds.
    The header goes, and the sheet's <dimension> too: openpyxl then reads the whole sheet on opening it."""
    from openpyxl import Workbook
    workbook = Workbook()
    workbook.active.append(HEADER)
    template = io.BytesIO()
    workbook.save(template)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename != "xl/worksheets/sheet1.xml":
                target.writestr(member, source.read(member))
                continue
            with target.open(member.filename, "w") as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
                            b'formats.org/spreadsheetml/2006/main"><sheetData>')
                for r in range(1, rows + 1):
                    sheet.write(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>'.encode())
                sheet.write(b"</sheetData></worksheet>")


def bomb_file(path: str, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(megabytes):
                sheet.write(b"A" * (1 << 20))


def measure(path: str) -> None:
    """In the child process: read the file twice, timed, then under tracemalloc; print what it cost."""
    from hours.schemas import MAX_BATCH_LINES
    from hours.spreadsheets import UnreadableFile, read_lines

    def read() -> str:
        with open(path, "rb") as stream:
            try:
                return f"{len(read_lines(stream, MAX_BATCH_LINES))} lines"
            except UnreadableFile as exc:
                return f"refused: {exc.rule}"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = read()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    read()
    peak = tracemalloc.get_traced_memory()[1]
    print(f"{outcome:<26} {seconds:5.2f} s  allocations peak {peak / 2**20:4.1f} MB  "
          f"process peak {after / 1024:5.1f} MB ({before / 1024:5.1f} MB before reading)")


CASES = [
    ("CSV, 1,500,000 rows", csv_file, 1_500_000),
    ("XLSX, 1,000,000 rows", numbers_xlsx_file, 1_000_000),
    ("XLSX, 350,000 rows, no <dimension>", numbers_xlsx_file, 350_000),  # the worst that passes the archive check
    ("XLSX expanding to 200 MB", bomb_file, 200),
    ("CSV, 10,000 rows", csv_file, 10_000),
    ("XLSX, 10,000 rows", xlsx_file, 10_000),
]

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(sys.argv[2])
        sys.exit()
    with tempfile.TemporaryDirectory() as folder:
        for name, make, size in CASES:
            path = f"{folder}/upload"
            make(path, size)
            with open(path, "rb") as f:
                megabytes = len(f.read()) / 2**20
            print(f"{name:<30} {megabytes:6.1f} MB sent: ", end="", flush=True)
            subprocess.run([sys.executable, __file__, "--measure", path], check=True)
