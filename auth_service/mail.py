"""The auth service's mail: what the messages say (Russian, plain text and HTML), and how they
leave — through an SMTP server (STARTTLS or TLS, with a login) or, with no SMTP_HOST (`make run`),
as .eml files under var/mail/ with their links in the log.

Messages are written to the outbox (`OutgoingMail`) in the request's transaction and delivered
by the worker (`tasks.deliver_mail`), never inside a request.
"""

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html import escape
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15
TLS_MODES = ("starttls", "tls", "none")
_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class MailSettings:
    sender: str
    public_base_url: str
    host: str = ""  # empty: write .eml files to `directory`
    port: int = 587
    username: str = ""
    password: str = ""
    tls: str = "starttls"  # "starttls" (587), "tls" (implicit, 465) or "none" (a local relay)
    directory: Path = Path("var/mail")

    def __post_init__(self):
        if self.tls not in TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}, not {self.tls!r}")


DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def mail_settings(config: dict) -> MailSettings:
    """The mail settings of an app's (or the worker's) config; a wrong SMTP_TLS stops it."""
    tls = config["SMTP_TLS"]
    return MailSettings(
        sender=config["SMTP_FROM"],
        public_base_url=config["PUBLIC_BASE_URL"],
        host=config["SMTP_HOST"],
        port=int(config["SMTP_PORT"] or DEFAULT_PORTS.get(tls, 0)),
        username=config["SMTP_USERNAME"],
        password=config["SMTP_PASSWORD"],
        tls=tls,
        directory=Path(config["MAIL_DIR"]),
    )


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def _html(paragraphs: list[str], link: str | None = None, button: str = "") -> str:
    body = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    if link:
        body += (
            f'<p><a href="{escape(link)}" style="display:inline-block;padding:10px 18px;'
            f'background:#3451b2;color:#ffffff;border-radius:8px;text-decoration:none">'
            f"{escape(button)}</a></p>"
            f'<p style="color:#5b6478;font-size:13px">Если кнопка не открывается, скопируйте '
            f"ссылку в браузер: {escape(link)}</p>"
        )
    return (
        '<!doctype html><html lang="ru"><body style="font-family:Arial,sans-serif;'
        f'color:#1c2333;line-height:1.5">{body}'
        '<p style="color:#5b6478;font-size:13px">Портал учебных материалов</p></body></html>'
    )


def verification_letter(full_name: str, link: str) -> Letter:
    lines = [
        f"Здравствуйте, {full_name}!",
        "Вы зарегистрировались на портале учебных материалов. Подтвердите адрес почты, "
        "чтобы добавлять курсы в избранное и задавать вопросы ассистенту курса.",
    ]
    after = "Ссылка действует 24 часа. Если вы не регистрировались, просто удалите это письмо."
    return Letter(
        "Подтвердите адрес почты",
        "\n\n".join([*lines, f"Подтвердить почту: {link}", after]) + "\n",
        _html([*lines, after], link, "Подтвердить почту"),
    )


def reset_letter(full_name: str, link: str) -> Letter:
    lines = [
        f"Здравствуйте, {full_name}!",
        "Кто-то (надеемся, вы) попросил сменить пароль на портале учебных материалов.",
    ]
    after = (
        "Ссылка действует 1 час и сработает один раз. Если вы не просили сменить пароль, "
        "удалите это письмо: пароль останется прежним."
    )
    return Letter(
        "Смена пароля",
        "\n\n".join([*lines, f"Задать новый пароль: {link}", after]) + "\n",
        _html([*lines, after], link, "Задать новый пароль"),
    )


def password_changed_letter(full_name: str, when: datetime) -> Letter:
    moment = when.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC")
    lines = [
        f"Здравствуйте, {full_name}!",
        f"Пароль вашей учётной записи изменён {moment}. Все входы на других устройствах завершены.",
        "Если это были не вы, сразу восстановите пароль по ссылке «Забыли пароль?» на странице "
        "входа и сообщите администратору портала.",
    ]
    return Letter("Пароль изменён", "\n\n".join(lines) + "\n", _html(lines))


def build_message(settings: MailSettings, recipient: str, letter: Letter) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = letter.subject
    name, address = parseaddr(settings.sender)
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = recipient
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2].strip("> "))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """One connection per message: mail is rare (registrations, resets), and a fresh
    connection never trips over a server that dropped an idle one."""

    def __init__(self, settings: MailSettings):
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        context = ssl.create_default_context()
        if settings.tls == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if settings.tls == "starttls":
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(message)
            client.quit()
        except BaseException:
            # No polite QUIT on a failed handshake or login: it would wait out the timeout.
            client.close()
            raise


class DirectoryTransport:
    """`make run`: each message an .eml file under var/mail/, its links in the log."""

    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}.eml"
        path.write_bytes(bytes(message))
        text = message.get_body(("plain",)).get_content()
        log.info(
            "mail written (no SMTP_HOST)",
            extra={
                "fields": {
                    "to": message["To"],
                    "subject": message["Subject"],
                    "file": str(path),
                    "links": _LINK.findall(text),
                }
            },
        )


def transport_for(settings: MailSettings) -> Transport:
    return SmtpTransport(settings) if settings.host else DirectoryTransport(settings.directory)
