"""workflow: the portal's Atom feed (RFC 4287, written by feedgen) and sitemap (the
sitemaps.org 0.9 protocol), which the bloc's existing website embeds or links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree

from feedgen.feed import FeedGenerator

from storage.models import Document
from workflow.vocab import DOC_TYPES

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def document_url(base: str, doc_id: int) -> str:
    """:returns: the public page of a document."""
    return f"{base.rstrip('/')}/public/documents/{doc_id}"


def atom(base: str, org_name: str, documents: Sequence[Document], now: datetime) -> bytes:
    """:returns: the Atom feed of ``documents`` (newest first)."""
    feed = FeedGenerator()
    root = base.rstrip("/")
    feed.id(f"{root}/public/")
    feed.title(f"Văn bản công khai - {org_name}")
    feed.subtitle("Văn bản đã ban hành và được công khai trên cổng thông tin")
    feed.author({"name": org_name})
    feed.link(href=f"{root}/public/", rel="alternate")
    feed.link(href=f"{root}/public/feed.atom", rel="self")
    feed.language("vi")
    feed.updated(max((d.published_at or d.issued_at or now for d in documents), default=now))
    for doc in reversed(documents):  # feedgen prepends: add oldest first
        entry = feed.add_entry()
        url = document_url(root, doc.id)
        entry.id(url)
        entry.title(f"{doc.symbol} - {doc.subject}")
        entry.link(href=url, rel="alternate")
        entry.link(href=f"{url}.pdf", rel="enclosure", type="application/pdf")
        entry.published(doc.issued_at)
        entry.updated(doc.published_at or doc.issued_at)
        issuer = doc.issuer_unit.name if doc.issuer_unit is not None else org_name
        entry.author({"name": issuer})
        entry.category(term=doc.doc_type, label=DOC_TYPES.get(doc.doc_type, doc.doc_type))
        entry.summary(f"{DOC_TYPES.get(doc.doc_type, doc.doc_type)} số {doc.symbol}: {doc.subject}")
    data: bytes = feed.atom_str(pretty=True)
    return data


def sitemap(base: str, entries: Sequence[tuple[int, datetime]]) -> bytes:
    """:returns: the sitemap of the portal's list and every listed document."""
    ElementTree.register_namespace("", SITEMAP_NS)
    urlset = ElementTree.Element(f"{{{SITEMAP_NS}}}urlset")
    home = ElementTree.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
    ElementTree.SubElement(home, f"{{{SITEMAP_NS}}}loc").text = f"{base.rstrip('/')}/public/"
    for doc_id, changed in entries:
        url = ElementTree.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        ElementTree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = document_url(base, doc_id)
        ElementTree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = changed.date().isoformat()
    return ElementTree.tostring(urlset, encoding="utf-8", xml_declaration=True)
