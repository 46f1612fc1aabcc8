"""A real SMTP server for ccbridge's tests: aiosmtpd (not ours), saving each message it accepts.

    python smtp_server.py --port PORT --dir DIR [--starttls CERT KEY | --tls CERT KEY]
                          [--login USER:PASSWORD]

Each accepted message becomes DIR/<n>.json: the envelope (mail_from, rcpt_tos), the headers
(subject, from, to, reply_to) and the decoded text and HTML parts, written atomically. Prints
READY once it listens; stops when its standard input closes (the test ended or died).
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SaveToDir:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = {"text/plain": None, "text/html": None}
        for part in message.walk():
            kind = part.get_content_type()
            if kind in parts and parts[kind] is None:
                parts[kind] = part.get_content().replace("\r\n", "\n")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["Subject"] or ""),
            "from": str(message["From"] or ""),
            "to": str(message["To"] or ""),
            "reply_to": str(message["Reply-To"] or ""),
            "text": parts["text/plain"],
            "html": parts["text/html"],
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
        }
        n = next(self.counter)
        path = os.path.join(self.directory, f"{n:04}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 OK"


def authenticator_for(login):
    user, password = login.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--login")
    args = parser.parse_args()

    kwargs = {}
    for mode in ("starttls", "tls"):
        files = getattr(args, mode)
        if files:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*files)
            if mode == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
    if args.login:
        kwargs.update(
            authenticator=authenticator_for(args.login),
            auth_required=True,
            auth_require_tls=bool(args.starttls or args.tls),
        )
    controller = Controller(SaveToDir(args.dir), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
