"""A local SMTP sink for the notifications service: accepts every message on 127.0.0.1 and keeps each
one as an .eml file in a folder (nothing leaves the machine).

    python deploy/local/mailsink.py --port 8103 --dir .local/mail
"""
import argparse
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class MailFolder:
    """aiosmtpd handler: one file per message, written whole then renamed (readers never see half a mail)."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        envelope_to = ", ".join(envelope.rcpt_tos)
        content = f"X-Envelope-To: {envelope_to}\r\n".encode() + (envelope.original_content or envelope.content)
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(content)
        partial.rename(self.folder / name)
        print(f"mail for {len(envelope.rcpt_tos)} recipient(s) stored as {name}", flush=True)
        return "250 Message accepted for delivery"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where the .eml files go")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller = Controller(MailFolder(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, mails in {args.dir}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
