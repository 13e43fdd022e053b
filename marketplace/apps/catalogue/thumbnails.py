"""Product thumbnails: a resized copy of a product image at one of a few fixed sizes.

The GraphQL ``Product.thumbnail(size)`` field only builds the URL of
``/catalogue/thumbnail/<image id>/<size>/`` from the image row the listing prefetched (no file or
cache access per product, one query per page); that view makes the resized file on first request
with Oscar's thumbnailer (sorl-thumbnail; its key-value store remembers it) and redirects to it,
so nginx / object storage serve every later hit. Requested sizes are rounded up to the next of
:data:`SIZES` so a client cannot make the server render arbitrary sizes.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

#: Square bounding boxes (px) a thumbnail may have; the default is the listing's card size.
SIZES: tuple[int, ...] = (64, 128, 256, 512, 1024)
DEFAULT_SIZE = 256


def nearest_size(requested: int | None) -> int:
    """The smallest allowed size not below ``requested`` (the largest for anything bigger)."""
    if not requested or requested <= 0:
        return DEFAULT_SIZE
    for size in SIZES:
        if size >= requested:
            return size
    return SIZES[-1]


def thumbnail_path(image_id: int, size: int) -> str:
    return reverse("storefront:catalogue-thumbnail", args=[image_id, nearest_size(size)])


def primary_image(product: Any) -> Any:
    """The product's first image by display order, from ``prefetch_related("images")`` when the
    caller prefetched them (:func:`marketplace.graphql.catalogue.schema.product_queryset`)."""
    images = list(product.images.all())
    if not images:
        return None
    return min(images, key=lambda image: (image.display_order, image.pk))


def render_thumbnail(image: Any, size: int) -> str:
    """The URL of ``image`` resized to fit ``size`` × ``size`` (made on first call, then looked up)."""
    from oscar.core.thumbnails import get_thumbnailer

    size = nearest_size(size)
    thumbnail = get_thumbnailer().generate_thumbnail(image.original, size=f"{size}x{size}", upscale=False)
    return thumbnail.url
