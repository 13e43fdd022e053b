"""Issue 11: ONE upload check (size and type by content) on every file field, and private files in a
private storage outside the public media root, served only through the authorised views.

Each hostile file is tried through more than one path: the supplier sign-up page, the supplier's
licence page, the station's question page (crop photos), the model field itself (what imports,
tasks and the admin end in) and Oscar's product images through the catalogue fork. GraphQL takes no
file uploads (no mutation has a file argument), so there is no GraphQL path to try."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import FileField, ImageField
from django.test import Client
from django.urls import reverse
from oscar.core.loading import get_model
from testkit import PDF, logged_in, make_user, supplier_signup_data

from marketplace.accounts.models import Role
from marketplace.apps.partner.models import LicenceKind, Partner, PartnerLicence
from marketplace.core import uploads
from marketplace.core.storage import move_to_private, private_storage
from plugins.village_info.models import Question, QuestionPhoto

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def png_bytes(size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), "green").save(buf, "PNG")
    return buf.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def login(user) -> Client:
    return logged_in(user, with_password=True)


@pytest.fixture
def media(settings, tmp_path):
    """Public and private storage in their own temporary folders (the private one is the storage
    the settings configure, re-pointed here)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    storage = private_storage()
    old = storage.location
    storage._location = str(tmp_path / "private")  # FileSystemStorage's own attribute
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)
    yield settings.MEDIA_ROOT, Path(storage.location)
    storage._location = old
    storage.__dict__.pop("base_location", None)
    storage.__dict__.pop("location", None)


# --- The check itself ------------------------------------------------------------------------------


def test_type_comes_from_the_content_not_the_name(settings):
    assert uploads.check_upload(upload("scan.pdf", PDF), uploads.DOCUMENT) == "pdf"
    assert uploads.check_upload(upload("leaf.png", png_bytes()), uploads.IMAGE) == "png"
    assert uploads.check_upload(upload("anything.bin", png_bytes()), uploads.IMAGE) == "png"
    for name, content in (("x.png", HTML), ("x.png", SVG), ("x.pdf", b"MZ\x90\x00"), ("x.png", PDF)):
        with pytest.raises(ValidationError) as exc:
            uploads.check_upload(upload(name, content), uploads.IMAGE)
        assert exc.value.error_list[0].code == "invalid_file_type", name
    # A PNG header followed by junk is not an image.
    with pytest.raises(ValidationError) as exc:
        uploads.check_upload(upload("x.png", png_bytes()[:20] + b"junk" * 50), uploads.IMAGE)
    assert exc.value.error_list[0].code == "invalid_image"
    settings.UPLOAD_MAX_IMAGE_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        uploads.check_upload(upload("leaf.png", png_bytes(64)), uploads.IMAGE, field="photos")
    assert exc.value.error_dict["photos"][0].code == "file_too_large"
    # Tables: CSV text (UTF-8 or GB18030) and XLSX; HTML is not a table.
    assert (
        uploads.check_upload(upload("a.csv", "SKU,名称\n1,尿素\n".encode("gb18030")), uploads.TABLE) == "csv"
    )
    with pytest.raises(ValidationError):
        uploads.check_upload(upload("a.csv", HTML), uploads.TABLE)


def test_every_file_field_of_ours_is_checked():
    """Every FileField/ImageField of the project's models (apps, plugins and Oscar's catalogue
    through our fork) is an upload-checked field."""
    unchecked = []
    for model in apps.get_models():
        module = model.__module__
        if not module.startswith(("marketplace.", "plugins.")):
            continue
        for field in model._meta.get_fields():
            if isinstance(field, FileField | ImageField) and not isinstance(
                field, uploads.UploadFileField | uploads.UploadImageField
            ):
                unchecked.append(f"{model._meta.label}.{field.name}")
    assert unchecked == []
    for label, name in (
        ("catalogue.ProductImage", "original"),
        ("catalogue.Category", "image"),
        ("catalogue.ProductAttributeValue", "value_image"),
    ):
        assert isinstance(apps.get_model(label)._meta.get_field(name), uploads.UploadImageField)


# --- Through the pages ------------------------------------------------------------------------------


def test_supplier_signup_refuses_disguised_and_oversized_scans(media, settings):
    public, private = media
    c = Client()
    r = c.post("/supplier/signup/", supplier_signup_data(business_licence=upload("licence.png", HTML)))
    assert r.status_code == 200 and "文件类型不支持" in r.content.decode()
    r = c.post("/supplier/signup/", supplier_signup_data(business_licence=upload("licence.png", SVG)))
    assert r.status_code == 200 and "文件类型不支持" in r.content.decode()
    settings.UPLOAD_MAX_DOCUMENT_BYTES = 1024
    r = c.post(
        "/supplier/signup/", supplier_signup_data(business_licence=upload("big.pdf", PDF + b"0" * 2000))
    )
    assert r.status_code == 200 and "文件不能超过" in r.content.decode()
    assert not Partner.objects.exists()
    settings.UPLOAD_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
    r = c.post("/supplier/signup/", supplier_signup_data())
    assert r.status_code == 302
    scan = PartnerLicence.objects.get(partner__name="松原丰田农资有限公司")
    # Stored in the private storage, nowhere under the public media root.
    assert (private / scan.file.name).read_bytes() == PDF
    assert not (public / scan.file.name).exists()
    assert not public.exists() or not any(public.rglob("*.pdf"))


def test_licence_page_refuses_html_named_png(media, supplier_user, supplier):
    c = login(supplier_user)
    data = {
        "partner": supplier.pk,
        "kind": LicenceKind.SEED_BUSINESS,
        "number": "LIC-HTML",
        "valid_from": "2026-01-01",
        "valid_until": "2029-01-01",
        "file": upload("scan.png", HTML),
    }
    r = c.post(reverse("storefront:supplier-licences"), data, follow=True)
    assert "文件类型不支持" in r.content.decode()
    assert not PartnerLicence.objects.filter(number="LIC-HTML").exists()


def test_question_photos_are_checked_and_private(media, staff_a, staff_b, station_a, household_a, operator):
    public, private = media
    c = login(staff_a)
    form = {
        "station": station_a.pk,
        "household": household_a.pk,
        "crop": "玉米",
        "topic": "pest",
        "text": "叶片发黄",
    }
    r = c.post(reverse("info:question-new"), {**form, "photos": [upload("leaf.png", SVG)]})
    assert r.status_code == 200 and "文件类型不支持" in r.content.decode()
    assert not Question.objects.exists()
    r = c.post(reverse("info:question-new"), {**form, "photos": [upload("leaf.png", png_bytes())]})
    assert r.status_code == 302
    photo = QuestionPhoto.objects.get()
    assert (private / photo.image.name).exists() and not (public / photo.image.name).exists()
    url = reverse("info:question-photo", args=[photo.question_id, photo.pk])
    response = c.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert login(staff_b).get(url).status_code == 404
    # Not reachable by a public media path (it is not there, and the media server refuses the prefix).
    assert c.get(f"/media/{photo.image.name}").status_code == 404


# --- Paths that end in the model field: imports, tasks, admin, Oscar's dashboard -------------------


def test_model_fields_check_whatever_path_saves_them(media, supplier, product_classes):
    licence = PartnerLicence(
        partner=supplier,
        kind=LicenceKind.choices[0][0],
        number="LIC-MODEL",
        valid_from=date.today(),
        valid_until=date.today() + timedelta(days=30),
    )
    with pytest.raises(ValidationError) as exc:
        licence.file.save("scan.png", ContentFile(HTML), save=False)
    assert "file" in exc.value.error_dict
    licence.file = upload("scan.pdf", SVG, "application/pdf")
    with pytest.raises(ValidationError), transaction.atomic():
        licence.save()
    assert not PartnerLicence.objects.filter(number="LIC-MODEL").exists()
    # Oscar's product images (the dashboard's image forms and the model itself).
    Product = get_model("catalogue", "Product")
    ProductImage = get_model("catalogue", "ProductImage")
    product = Product.objects.create(title="尿素", product_class=next(iter(product_classes.values())))
    with pytest.raises(ValidationError), transaction.atomic():
        ProductImage.objects.create(product=product, original=upload("urea.png", SVG))
    image = ProductImage(product=product, original=upload("urea.png", png_bytes()))
    image.full_clean()
    image.save()
    assert image.original.name.endswith(".png") and default_storage.exists(image.original.name)
    form_image = ProductImage(product=product, original=upload("urea2.png", HTML))
    with pytest.raises(ValidationError) as exc:
        form_image.full_clean()  # what Oscar's dashboard forms and the admin run
    assert "original" in exc.value.error_dict


# --- Private storage: owners and operators only, never a public path ------------------------------


def test_licence_scan_is_private_and_served_only_to_owner_and_operators(
    media, supplier, supplier_user, other_supplier, operator
):
    public, private = media
    licence = PartnerLicence(
        partner=supplier,
        kind=LicenceKind.choices[0][0],
        number="LIC-PRIV",
        valid_from=date.today(),
        valid_until=date.today() + timedelta(days=30),
    )
    licence.file.save("scan.pdf", ContentFile(PDF), save=False)
    licence.save()
    assert (private / licence.file.name).exists() and not (public / licence.file.name).exists()
    assert Client().get(f"/media/{licence.file.name}").status_code == 404
    outsider = make_user("sup_outsider", Role.SUPPLIER)
    other_supplier.users.add(outsider)
    for url in (f"/files/licences/{licence.pk}/", f"/supplier/licences/{licence.pk}/file/"):
        assert login(outsider).get(url).status_code == 404
        for user in (supplier_user, operator):
            response = login(user).get(url)
            assert response.status_code == 200, (url, user)
            assert b"".join(response.streaming_content) == PDF
            assert response["Content-Type"] == "application/pdf"


def test_data_migration_moves_old_public_files_into_private_storage(media, supplier):
    public, private = media
    old_name = default_storage.save("licences/2025/old-scan.pdf", ContentFile(PDF))
    assert (public / old_name).exists()
    row = PartnerLicence.objects.create(
        partner=supplier,
        kind=LicenceKind.choices[0][0],
        number="LIC-OLD",
        valid_from=date.today(),
        valid_until=date.today() + timedelta(days=30),
    )
    PartnerLicence.objects.filter(pk=row.pk).update(file=old_name)  # as an older release stored it
    assert move_to_private(PartnerLicence, "file") == 1
    row.refresh_from_db()
    assert (private / row.file.name).read_bytes() == PDF
    assert not (public / old_name).exists()
    assert move_to_private(PartnerLicence, "file") == 0  # a re-run moves nothing
