"""A real SMTP server for ccbridge's tests: aiosmtpd (not ours), saving each message it accepts.

    python smtp_server.py --port PORT --dir DIR [--starttls CERT KEY | --tls CERT KEY]
                          [--login USER:PASSWORD] [--refuse-sender-while FILE]
                          [--refuse-recipient ADDRESS]

Each accepted message becomes DIR/<n>.json: the envelope (mail_from, rcpt_tos), the headers
(subject, from, to, reply_to) and the decoded text and HTML parts, written atomically. Prints
READY once it listens; stops when its standard input closes (the test ended or died).

--refuse-sender-while FILE answers 550 to MAIL FROM while FILE exists (a server that does not
accept the configured sender until its operator fixes it); --refuse-recipient ADDRESS answers
"550 5.1.1 <ADDRESS>: mailbox unavailable" to RCPT TO that address (a server that knows it has
no such mailbox, echoing the address as real servers do).
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
    def __init__(self, directory, refuse_sender_while=None, refuse_recipient=None):
        self.directory = directory
        self.counter = itertools.count(1)
        self.refuse_sender_while = refuse_sender_while
        self.refuse_recipient = refuse_recipient

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender_while and os.path.exists(self.refuse_sender_while):
            return "550 5.7.1 sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipient and address.lower() == self.refuse_recipient.lower():
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

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
    parser.add_argument("--refuse-sender-while", metavar="FILE")
    parser.add_argument("--refuse-recipient", metavar="ADDRESS")
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
    handler = SaveToDir(args.dir, args.refuse_sender_while, args.refuse_recipient)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
