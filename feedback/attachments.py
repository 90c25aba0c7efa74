"""Attachment checks: a size cap, a type allowlist judged from the content.

The uploader's filename and Content-Type are not trusted: a file is an image,
a PDF or UTF-8 text because its bytes say so. Executables (ELF, PE/MZ,
Mach-O) and scripts with a shebang are refused even when named ``.png``.
The filename is kept only as a display name, without any path; the file is
stored under a generated name (``feedback.models.attachment_path``).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass

import puremagic
from django.core.files.uploadedfile import UploadedFile
from rest_framework import exceptions, status

from feedback.conf import conf
from testenv.errors import PayloadTooLarge

HEAD_BYTES = 64 * 1024
MAX_FILENAME = 255

# Allowed binary types, identified by puremagic from the leading bytes.
ALLOWED_BINARY_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
)

# Refused outright, whatever the name; checked before anything else so that
# the answer names the reason.
EXECUTABLE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows (PE/MZ) executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"#!", "a script with a shebang line"),
)

UTF8_BOM = codecs.BOM_UTF8
# Text never holds NUL or other C0 controls; tabs, line ends, form feeds and
# ESC (coloured log output) are fine. Binary formats (zip, ...) trip this.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


class AttachmentTooLarge(PayloadTooLarge):
    default_detail = "The attachment is larger than allowed."


class AttachmentTypeRefused(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "This type of file is not accepted."
    default_code = "unsupported_media_type"


class AttachmentInvalid(exceptions.ValidationError):
    pass


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks, with what was learned about it."""

    upload: UploadedFile
    filename: str
    content_type: str
    size: int
    sha256: str


def safe_filename(name: str | None) -> str:
    """A display name without directories, control characters or a leading
    dot, at most 255 characters, never empty."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '<>:"|?*'
    )
    name = name.strip().lstrip(".").strip()
    if not name:
        return "attachment"
    if len(name) > MAX_FILENAME:
        stem, ext = os.path.splitext(name)
        ext = ext[:20]
        name = stem[: MAX_FILENAME - len(ext)] + ext
    return name


def _refuse_executable(head: bytes) -> None:
    start = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    for signature, what in EXECUTABLE_SIGNATURES:
        if signature == b"MZ" and b"\x00" not in start[:64]:
            # A DOS header always has zero bytes; a text line that merely
            # begins with "MZ" is text.
            continue
        if start.startswith(signature):
            raise AttachmentTypeRefused(
                f"The file is {what}; executables and scripts are not accepted."
            )


def _binary_type(head: bytes) -> str | None:
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return None
    for match in matches:
        if match.mime_type in ALLOWED_BINARY_TYPES:
            return match.mime_type
    return None


def _text_type(upload: UploadedFile, filename: str) -> str | None:
    """ "application/json", "text/csv" or "text/plain" for valid UTF-8 text
    without NUL bytes; None otherwise."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    parts: list[str] = []
    try:
        for chunk in upload.chunks():
            if CONTROL_BYTES.search(chunk):
                return None
            parts.append(decoder.decode(chunk))
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return None
    text = "".join(parts).lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            return "application/json"  # JSON and HAR (HAR is JSON)
    if filename.lower().endswith(".csv"):
        return "text/csv"
    return "text/plain"


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Check one upload: size, then type from the content.

    Raises ``AttachmentTooLarge`` (413), ``AttachmentTypeRefused`` (415) or
    ``AttachmentInvalid`` (400, an empty file).
    """
    limit = int(conf("FEEDBACK_ATTACHMENT_MAX_BYTES"))
    size = int(upload.size or 0)
    if size > limit:
        raise AttachmentTooLarge(
            f"{safe_filename(upload.name)} is {size} bytes; the limit is {limit}."
        )
    if size == 0:
        raise AttachmentInvalid({"files": ["An attachment may not be empty."]})
    filename = safe_filename(upload.name)
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    _refuse_executable(head)
    content_type = _binary_type(head) or _text_type(upload, filename)
    upload.seek(0)
    if content_type is None:
        raise AttachmentTypeRefused(
            "Accepted: PNG, JPEG, GIF and WebP images, PDF, and UTF-8 text "
            "(logs, JSON, HAR, CSV); the content of this file is none of these."
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedUpload(upload, filename, content_type, size, digest.hexdigest())
