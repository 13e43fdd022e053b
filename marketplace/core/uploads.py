"""Uploads: ONE check of size and type for every file a user hands us, by CONTENT, never by name.

Kinds (what a field accepts, with its size limit from settings):

- ``document`` — PDF, JPEG, PNG (licence scans, test reports); ``UPLOAD_MAX_DOCUMENT_BYTES``.
- ``image`` — JPEG, PNG, WebP (photos, product images); ``UPLOAD_MAX_IMAGE_BYTES``.
- ``table`` — CSV (UTF-8 or GB18030 text) or XLSX (catalogue imports); ``UPLOAD_MAX_TABLE_BYTES``.

The type is read from the bytes: a PDF must start with ``%PDF-``; an image must be one Pillow
recognises as the format its header claims and must pass Pillow's ``verify()`` (a truncated or
forged file does not), within ``Image.MAX_IMAGE_PIXELS``. HTML, SVG (script included), executables
and anything else are refused whatever they are called.

Where it applies: model fields declared with :class:`UploadFileField` / :class:`UploadImageField`
(every FileField/ImageField of ours, Oscar's product and category images through the catalogue
fork) check the file when it is SAVED to storage — whichever path saves it (pages, GraphQL,
imports, tasks, the admin) — and their validator also runs in model forms (the admin, Oscar's
dashboard) so the form shows the error on the field. Plain forms use :class:`UploadValidator` on
their ``forms.FileField``; services that take several files (question photos) call
:func:`check_upload` with the field name to report.
"""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.files import FieldFile, ImageFieldFile
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DOCUMENT = "document"
IMAGE = "image"
TABLE = "table"

#: Detected types each kind accepts.
ACCEPTS: dict[str, tuple[str, ...]] = {
    DOCUMENT: ("pdf", "jpeg", "png"),
    IMAGE: ("jpeg", "png", "webp"),
    TABLE: ("csv", "xlsx"),
}
#: The setting holding each kind's size limit in bytes.
LIMIT_SETTINGS = {
    DOCUMENT: "UPLOAD_MAX_DOCUMENT_BYTES",
    IMAGE: "UPLOAD_MAX_IMAGE_BYTES",
    TABLE: "UPLOAD_MAX_TABLE_BYTES",
}
LABELS = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG", "webp": "WebP", "csv": "CSV", "xlsx": "XLSX"}
#: Content types by detected type (private file views answer with these, not with the file name's).
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_HEAD = 4096


def max_bytes(kind: str) -> int:
    return int(getattr(settings, LIMIT_SETTINGS[kind]))


def sniff(head: bytes) -> str | None:
    """The type the first bytes of a file show (``None``: not one we accept anywhere)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"  # a ZIP; the importer opens it as a workbook and names the problem if it is not
    if head and b"\x00" not in head and not head.lstrip().startswith(b"<") and _is_text(head):
        return "csv"
    return None


def _is_text(head: bytes) -> bool:
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and exc.start >= len(head) - 3:  # a character cut at the edge
                return True
            continue
        return True
    return False


def _open(value: Any) -> IO[bytes]:
    handle = getattr(value, "file", None) if isinstance(value, FieldFile) else value
    return handle if handle is not None else value


def _size(value: Any, handle: IO[bytes]) -> int:
    size = getattr(value, "size", None)
    if size is None:
        handle.seek(0, 2)
        size = handle.tell()
    return int(size)


def detect(value: Any) -> str | None:
    """Detected type of a file-like value (rewound afterwards)."""
    handle = _open(value)
    handle.seek(0)
    head = handle.read(_HEAD)
    handle.seek(0)
    return sniff(head if isinstance(head, bytes) else head.encode())


def check_upload(value: Any, kind: str, field: str | None = None) -> str:
    """Refuse a file that is too large or whose CONTENT is not of ``kind``; returns the detected type.
    With ``field`` the ValidationError names that field (services); without, it is a plain list."""
    try:
        return _check(value, kind)
    except ValidationError as exc:
        if field is None:
            raise
        raise ValidationError({field: exc.error_list}) from None


def _check(value: Any, kind: str) -> str:
    handle = _open(value)
    limit = max_bytes(kind)
    if _size(value, handle) > limit:
        raise ValidationError(
            _("文件不能超过 %(mb)s MB"), code="file_too_large", params={"mb": f"{limit / 1048576:g}"}
        )
    detected = detect(value)
    allowed = ACCEPTS[kind]
    if detected not in allowed:
        raise ValidationError(
            _("文件类型不支持，只接受 %(types)s"),
            code="invalid_file_type",
            params={"types": gettext("、").join(LABELS[t] for t in allowed)},
        )
    if detected in _PILLOW_FORMATS:
        _check_image(handle, _PILLOW_FORMATS[detected])
    return detected


def _check_image(handle: IO[bytes], expected: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        handle.seek(0)
        with Image.open(handle) as img:
            if img.format != expected:
                raise ValidationError(_("图片文件无法识别"), code="invalid_image")
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(_("图片文件无法识别"), code="invalid_image") from None
    finally:
        handle.seek(0)


@deconstructible
class UploadValidator:
    """Validator for form and model fields; a file already stored (not a new upload) is not re-read."""

    def __init__(self, kind: str) -> None:
        if kind not in ACCEPTS:
            raise ValueError(f"unknown upload kind {kind!r}")
        self.kind = kind

    def __call__(self, value: Any) -> None:
        if isinstance(value, FieldFile) and getattr(value, "_committed", True):
            return
        _check(value, self.kind)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UploadValidator) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)


class _CheckedSave:
    """Checks the content before it reaches storage: ``FieldFile.save`` is where every path ends
    (model forms, ``instance.file = upload; instance.save()``, ``field_file.save(name, content)``)."""

    field: Any

    def save(self, name: str, content: Any, save: bool = True) -> None:
        check_upload(content, self.field.upload_kind, field=self.field.name)
        super().save(name, content, save)  # type: ignore[misc]


class CheckedFieldFile(_CheckedSave, FieldFile):
    pass


class CheckedImageFieldFile(_CheckedSave, ImageFieldFile):
    pass


class _UploadKindMixin:
    """Gives a file field the :class:`UploadValidator` of its ``kind`` (kept in migrations)."""

    default_kind = DOCUMENT

    def __init__(self, *args: Any, kind: str | None = None, **kwargs: Any) -> None:
        self.upload_kind = kind or self.default_kind
        self.default_validators = [UploadValidator(self.upload_kind)]
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        kwargs["kind"] = self.upload_kind
        return name, path, args, kwargs


class UploadFileField(_UploadKindMixin, models.FileField):
    """A FileField whose uploads pass :func:`check_upload` for its ``kind``."""

    attr_class = CheckedFieldFile


class UploadImageField(_UploadKindMixin, models.ImageField):
    """An ImageField whose uploads pass :func:`check_upload` (kind ``image``)."""

    attr_class = CheckedImageFieldFile
    default_kind = IMAGE
