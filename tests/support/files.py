"""Files made on the fly for the upload tests: what careless or hostile senders upload."""
import io
import zipfile


def expanding_xlsx(megabytes: int = 200) -> bytes:
    """A zip named like an XLSX whose sheet is ``megabytes`` MB of repeated bytes: about 0.2 MB sent."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"<c>" + b"A" * (1 << 20)
            for _ in range(megabytes):
                sheet.write(chunk)
    return out.getvalue()


def xlsx(rows: list[list], title: str | None = None) -> bytes:
    from openpyxl import Workbook
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
